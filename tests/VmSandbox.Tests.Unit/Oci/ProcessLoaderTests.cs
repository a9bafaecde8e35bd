using System.Text;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class ProcessLoaderTests
{
    [Fact]
    public void Loads_an_exec_process_file()
    {
        using var dir = new TempBundle(rootfs: false);
        string path = Path.Combine(dir.Path, "process.json");
        File.WriteAllText(path, """{"terminal":true,"consoleSize":{"height":24,"width":80},"user":{"uid":1000,"gid":1000,"umask":18},"args":["ls","-l"],"env":["A=b"],"cwd":"/tmp","noNewPrivileges":true}""");

        ProcessSpec p = ProcessLoader.Load(path, new List<string>());

        Assert.True(p.Terminal);
        Assert.Equal(80u, p.ConsoleSize!.Width);
        Assert.Equal(18u, p.User.Umask);
        Assert.Equal(["ls", "-l"], p.Args!);
        Assert.Equal("/tmp", p.Cwd);
    }

    [Fact]
    public void Missing_file_uses_runcs_words()
    {
        using var dir = new TempBundle(rootfs: false);
        string path = Path.Combine(dir.Path, "nope.json");

        var e = Assert.Throws<VmSandboxException>(() => ProcessLoader.Load(path, new List<string>()));

        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Equal($"open {path}: no such file or directory", e.Message);
    }

    [Theory]
    [InlineData("{\"args\":[\"sh\"],\"cwd\":\"/\"", "process.json: invalid json at line 1, byte 25: expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed")]
    [InlineData("{\"args\":[],\"cwd\":\"/\"}", "process.json: args: must not be empty")]
    [InlineData("{\"args\":[\"sh\"]}", "process.json: cwd: must not be empty")]
    [InlineData("{\"args\":[\"sh\"],\"cwd\":\"rel\"}", "process.json: cwd: \"rel\" is not an absolute path")]
    [InlineData("{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"X\"]}", "process.json: env[0]: invalid environment variable \"X\": missing '='")]
    [InlineData("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":\"root\"}}", "process.json: user.uid: expected uint32, got string (line 1, byte 40)")]
    [InlineData("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"additionalGids\":[1,-2]}}", "process.json: user.additionalGids[1]: expected uint32, got -2 (line 1, byte 54)")]
    [InlineData("{\"args\":[\"sh\",7],\"cwd\":\"/\"}", "process.json: args[1]: expected string, got 7 (line 1, byte 15)")]
    public void Rejects_bad_process_json(string json, string message)
    {
        var e = Assert.Throws<VmSandboxException>(() => ProcessLoader.Parse(Encoding.UTF8.GetBytes(json), new List<string>()));

        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal(message, VmSandboxException.FormatChain(e));
    }

    [Fact]
    public void Round_trips_compactly()
    {
        const string json = """{"terminal":true,"user":{"uid":1,"gid":2},"args":["sh"],"cwd":"/"}""";

        Assert.Equal(json, ProcessLoader.Serialize(ProcessLoader.Parse(Encoding.UTF8.GetBytes(json), new List<string>())));
    }
}
