using System.Text.Json.Nodes;
using VmSandbox.Cli;
using VmSandbox.Cli.Commands;
using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using VmSandbox.Install.Docker;
using Xunit;

namespace VmSandbox.Tests.Unit.Cli;

/// <summary>`vmsandbox install --docker` / `uninstall --docker` with a temp daemon.json and a recording reloader.</summary>
public sealed class InstallCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-install-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string DaemonJson => Path.Combine(_dir, "daemon.json");

    private static readonly IContainerdRestarter s_noContainerd = new UnusedRestarter();

    private sealed class UnusedRestarter : IContainerdRestarter
    {
        public ContainerdRestart RestartIfActive() => throw new InvalidOperationException("install --docker restarted containerd");
    }

    private sealed class RecordingReloader(int? pid) : IDockerReloader
    {
        public int Calls { get; private set; }

        public int? Reload()
        {
            Calls++;
            return pid;
        }
    }

    private static (int Rc, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = CliApp.Run(args, stdout, stderr);
        return (rc, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Install_registers_the_running_binary_and_uninstall_removes_it()
    {
        File.WriteAllText(DaemonJson, "{\"debug\": true}\n");
        var (rc, output, err) = Cli("install", "--docker", "--daemon-json", DaemonJson, "--no-reload");
        Assert.Equal((0, ""), (rc, err));
        string self = InstallCommand.SelfPath();
        Assert.StartsWith("/", self, StringComparison.Ordinal);
        Assert.Equal(self, (string?)JsonNode.Parse(File.ReadAllText(DaemonJson))!["runtimes"]!["vmsandbox"]!["path"]);
        Assert.Contains($"registered runtime vmsandbox ({self}) in {DaemonJson} (backup: {DaemonJson}.vmsandbox.bak)", output, StringComparison.Ordinal);
        Assert.Contains("--no-reload", output, StringComparison.Ordinal);

        (rc, output, _) = Cli("install", "--docker", $"--daemon-json={DaemonJson}", "--no-reload");
        Assert.Equal(0, rc);
        Assert.Contains("is already in", output, StringComparison.Ordinal);

        (rc, output, _) = Cli("uninstall", "--docker", "--daemon-json", DaemonJson, "--no-reload");
        Assert.Equal(0, rc);
        Assert.Contains($"removed runtime vmsandbox from {DaemonJson}", output, StringComparison.Ordinal);
        Assert.Equal("{\n  \"debug\": true\n}\n", File.ReadAllText(DaemonJson));
    }

    [Theory]
    [InlineData(1234, "sent SIGHUP to dockerd (pid 1234)")]
    [InlineData(null, "dockerd is not running")]
    public void Install_and_uninstall_reload_dockerd_unless_told_not_to(int? pid, string expected)
    {
        var reloader = new RecordingReloader(pid);
        var stdout = new StringWriter();
        InstallCommand.Run(new ArgReader(["--docker", "--daemon-json", DaemonJson, "--runtime-name", "vms"]), stdout, reloader, s_noContainerd, "/opt/vmsandbox");
        Assert.Equal(1, reloader.Calls);
        Assert.Contains(expected, stdout.ToString(), StringComparison.Ordinal);
        Assert.Equal("/opt/vmsandbox", (string?)JsonNode.Parse(File.ReadAllText(DaemonJson))!["runtimes"]!["vms"]!["path"]);

        UninstallCommand.Run(new ArgReader(["--docker", "--daemon-json", DaemonJson, "--runtime-name=vms"]), new StringWriter(), reloader, s_noContainerd);
        Assert.Equal(2, reloader.Calls);
        UninstallCommand.Run(new ArgReader(["--docker", "--daemon-json", DaemonJson, "--runtime-name=vms"]), new StringWriter(), reloader, s_noContainerd);
        Assert.Equal(2, reloader.Calls);
        InstallCommand.Run(new ArgReader(["--docker", "--daemon-json", DaemonJson, "--no-reload"]), new StringWriter(), reloader, s_noContainerd, "/opt/vmsandbox");
        Assert.Equal(2, reloader.Calls);
    }

    [Theory]
    [InlineData(new[] { "install" }, "vmsandbox: install: say what to install for: --docker or --containerd (fix: vmsandbox install --docker, or vmsandbox install --containerd)")]
    [InlineData(new[] { "uninstall", "--docker", "--containerd" }, "vmsandbox: uninstall: --docker and --containerd are two runs: pass one")]
    [InlineData(new[] { "uninstall", "--containerd", "--config-path", "/x" }, "vmsandbox: unknown flag --config-path for uninstall")]
    [InlineData(new[] { "install", "--containerd", "--daemon-json", "/x" }, "vmsandbox: install: --daemon-json goes with --docker")]
    [InlineData(new[] { "install", "--docker", "--containerd-config=/x" }, "vmsandbox: install: --containerd-config goes with --containerd")]
    [InlineData(new[] { "install", "--docker", "--config-path", "/x" }, "vmsandbox: install: --config-path goes with --containerd")]
    [InlineData(new[] { "install", "--containerd", "--runtime-name", "VMS" }, "vmsandbox: runtime name \"VMS\" is not a DNS label (1-63 of a-z 0-9 -, a letter or digit at both ends), which a RuntimeClass handler must be")]
    [InlineData(new[] { "install", "--docker", "extra" }, "vmsandbox: install takes no positional arguments, got \"extra\"")]
    [InlineData(new[] { "install", "--docker", "--daemon-json" }, "vmsandbox: flag --daemon-json needs a value")]
    public void Bad_usage_is_one_line(string[] args, string message)
    {
        var (rc, _, err) = Cli(args);
        Assert.NotEqual(0, rc);
        Assert.Equal(message, err.Trim());
    }

    [Fact]
    public void A_malformed_daemon_json_fails_and_stays_untouched()
    {
        File.WriteAllText(DaemonJson, "{nope");
        var (rc, _, err) = Cli("install", "--docker", "--daemon-json", DaemonJson, "--no-reload");
        Assert.Equal(ExitCodes.Failure, rc);
        Assert.StartsWith($"vmsandbox: {DaemonJson}: malformed json at line 1", err, StringComparison.Ordinal);
        Assert.Equal("{nope", File.ReadAllText(DaemonJson));
    }
}
