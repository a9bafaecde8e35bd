using System.Text.Json;
using VmSandbox.Cli;
using VmSandbox.Common;
using Xunit;

namespace VmSandbox.Tests.Unit.Cli;

public sealed class CliAppTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = CliApp.Run(args, stdout, stderr);
        return (rc, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Version_prints_runc_style_lines()
    {
        var (rc, output, _) = Run("--version");
        Assert.Equal(0, rc);
        Assert.StartsWith("vmsandbox version 0.1.0", output, StringComparison.Ordinal);
        Assert.Contains("spec: 1.0.2", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_command_is_one_line_and_a_usage_exit_code()
    {
        var (rc, _, err) = Run("frobnicate");
        Assert.Equal(ExitCodes.Usage, rc);
        Assert.Equal("vmsandbox: unknown command \"frobnicate\" (fix: vmsandbox help)", err.Trim());
    }

    [Fact]
    public void Errors_go_to_the_log_as_json_lines()
    {
        string log = Path.Combine(_dir, "log.json");
        var (rc, _, _) = Run("--log", log, "--log-format=json", "boot", "--id", "../x");
        Assert.Equal(ExitCodes.Failure, rc);
        string line = Assert.Single(File.ReadAllLines(log));
        using JsonDocument doc = JsonDocument.Parse(line);
        Assert.Equal("error", doc.RootElement.GetProperty("level").GetString());
        Assert.Contains("invalid id", doc.RootElement.GetProperty("msg").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.TryParse(doc.RootElement.GetProperty("time").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
    }

    [Theory]
    [InlineData("--log-format", "xml", "boot")]
    [InlineData("--root")]
    [InlineData("--bogus", "check")]
    public void Bad_global_flags_fail_cleanly(params string[] args)
    {
        var (rc, _, err) = Run(args);
        Assert.NotEqual(0, rc);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Text_log_lines_quote_the_message()
    {
        string line = CliLog.Format("error", "say \"hi\"", DateTimeOffset.UnixEpoch, json: false);
        Assert.Equal("time=\"1970-01-01T00:00:00.0000000+00:00\" level=error msg=\"say \\\"hi\\\"\"\n", line);
    }
}
