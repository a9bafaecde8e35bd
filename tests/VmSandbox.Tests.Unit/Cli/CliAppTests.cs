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

    [Theory]
    [InlineData("delete", "-h", "--force, -f")]
    [InlineData("exec", "--help", "--detach, -d")]
    [InlineData("create", "--help", "--bundle VALUE, -b VALUE")]
    [InlineData("spec", "-h", "vmsandbox spec - write a default config.json")]
    public void A_commands_help_goes_to_stdout_with_exit_0(string verb, string flag, string expected)
    {
        var (rc, output, err) = Run(verb, flag);
        Assert.Equal(0, rc);
        Assert.StartsWith($"vmsandbox {verb} - ", output, StringComparison.Ordinal);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.Empty(err);
    }

    [Fact]
    public void A_help_flag_after_the_containers_command_belongs_to_it()
    {
        // exec ID sh -h: "-h" is sh's, so the missing container is the error, not a help page.
        var (rc, output, err) = Run("--root", _dir, "exec", "nosuch", "sh", "-h");
        Assert.NotEqual(0, rc);
        Assert.Empty(output);
        Assert.Contains("nosuch", err, StringComparison.Ordinal);
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
    public void Spec_writes_a_loadable_default_config_and_refuses_to_overwrite_it()
    {
        var (rc, output, _) = Run("spec", "--bundle", _dir);
        Assert.Equal(0, rc);
        Assert.Equal("", output);
        Directory.CreateDirectory(Path.Combine(_dir, "rootfs"));
        VmSandbox.Oci.LoadedSpec loaded = VmSandbox.Oci.SpecLoader.Load(_dir);
        Assert.Equal(["sh"], loaded.Spec.Process!.Args);
        Assert.Equal("rootfs", loaded.Spec.Root!.Path);

        var (rc2, _, err) = Run("spec", "-b", _dir);
        Assert.Equal(1, rc2);
        Assert.Equal("vmsandbox: File config.json exists. Remove it first.", err.Trim());
    }

    [Theory]
    [InlineData("spec", "--bundle", "/nonexistent/bundle", "vmsandbox: bundle /nonexistent/bundle: no such file or directory")]
    [InlineData("spec", "--rootless", "", "vmsandbox: spec --rootless is not supported: vmsandbox runs as root")]
    [InlineData("features", "extra", "", "vmsandbox: features takes no arguments, got \"extra\"")]
    public void Spec_and_features_reject_bad_arguments(string verb, string a, string b, string expected)
    {
        string[] args = b.Length > 0 ? [verb, a, b] : [verb, a];
        var (rc, _, err) = Run(args);
        Assert.Equal(1, rc);
        Assert.Equal(expected, err.Trim());
    }

    [Fact]
    public void Features_prints_runc_shaped_json()
    {
        var (rc, output, _) = Run("features");
        Assert.Equal(0, rc);
        using JsonDocument doc = JsonDocument.Parse(output);
        Assert.Equal("1.0.0", doc.RootElement.GetProperty("ociVersionMin").GetString());
        Assert.True(doc.RootElement.GetProperty("linux").GetProperty("seccomp").GetProperty("enabled").GetBoolean());
        Assert.Contains("pid", doc.RootElement.GetProperty("linux").GetProperty("namespaces").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Debug_goes_to_stderr_as_runc_prints_it_or_to_the_log_file()
    {
        var (rc, _, err) = Run("--debug", "features");
        Assert.Equal(0, rc);
        Assert.Matches("^time=\"[^\"]+Z\" level=debug msg=\"vmsandbox [^\"]+: features \\(pid [0-9]+\\)\"\n$", err);

        string log = Path.Combine(_dir, "debug.log");
        var (rc2, _, err2) = Run("--debug", "--log", log, "--log-format", "json", "features");
        Assert.Equal(0, rc2);
        Assert.Equal("", err2);
        Assert.Contains("\"level\":\"debug\"", File.ReadAllText(log), StringComparison.Ordinal);

        var (_, _, quiet) = Run("features");
        Assert.Equal("", quiet);
    }

    [Fact]
    public void Text_log_lines_quote_the_message()
    {
        string line = CliLog.Format("error", "say \"hi\"", DateTimeOffset.UnixEpoch, json: false);
        Assert.Equal("time=\"1970-01-01T00:00:00.0000000Z\" level=error msg=\"say \\\"hi\\\"\"\n", line);
    }

    /// <summary>
    /// go-runc (Docker, containerd) decodes each JSON log line's "time" with Go's time.Time, which
    /// takes the raw bytes: no escapes allowed. runc's wording in "msg" is kept readable.
    /// </summary>
    [Fact]
    public void Json_log_lines_have_an_unescaped_rfc3339_time()
    {
        string line = CliLog.Format("error", "exec: \"foo\": executable file not found in $PATH", new DateTimeOffset(2026, 11, 26, 13, 0, 0, TimeSpan.FromHours(2)), json: true);
        Assert.Equal("{\"level\":\"error\",\"msg\":\"exec: \\\"foo\\\": executable file not found in $PATH\",\"time\":\"2026-11-26T11:00:00.0000000Z\"}\n", line);
    }
}
