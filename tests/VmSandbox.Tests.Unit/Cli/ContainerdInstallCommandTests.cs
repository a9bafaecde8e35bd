using VmSandbox.Cli;
using VmSandbox.Cli.Commands;
using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using VmSandbox.Install.Docker;
using Xunit;

namespace VmSandbox.Tests.Unit.Cli;

/// <summary>`vmsandbox install --containerd` / `uninstall --containerd` with a temp config.toml and a recording restarter (never the host's containerd).</summary>
public sealed class ContainerdInstallCommandTests : IDisposable
{
    private const string Debian = "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n      bin_dir = \"/usr/lib/cni\"\n";
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-install-containerd-").FullName;

    public ContainerdInstallCommandTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "bin"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ConfigToml => Path.Combine(_dir, "config.toml");

    private string Binary => Path.Combine(_dir, "bin", "vmsandbox");

    private string Shim => Path.Combine(_dir, "bin", "containerd-shim-vmsandbox-v2");

    private sealed class RecordingRestarter(ContainerdRestart outcome) : IContainerdRestarter
    {
        public int Calls { get; private set; }

        public ContainerdRestart RestartIfActive()
        {
            Calls++;
            return outcome;
        }
    }

    private sealed class FailingRestarter : IContainerdRestarter
    {
        public ContainerdRestart RestartIfActive() =>
            throw new VmSandboxException(ErrorCode.System, "systemctl restart containerd: exit code 1: Job for containerd.service failed");
    }

    private sealed class UnusedReloader : IDockerReloader
    {
        public int? Reload() => throw new InvalidOperationException("install --containerd signalled dockerd");
    }

    private string Install(IContainerdRestarter restarter, params string[] args)
    {
        var stdout = new StringWriter();
        Assert.Equal(0, InstallCommand.Run(new ArgReader(["--containerd", "--containerd-config", ConfigToml, .. args]), stdout, new UnusedReloader(), restarter, Binary));
        return stdout.ToString();
    }

    private string Uninstall(IContainerdRestarter restarter, params string[] args)
    {
        var stdout = new StringWriter();
        Assert.Equal(0, UninstallCommand.Run(new ArgReader(["--containerd", $"--containerd-config={ConfigToml}", .. args]), stdout, new UnusedReloader(), restarter));
        return stdout.ToString();
    }

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Install_registers_the_shim_beside_the_binary_restarts_containerd_and_uninstall_reverts_it()
    {
        File.WriteAllText(ConfigToml, Debian);
        File.WriteAllText(Shim, "");
        var restarter = new RecordingRestarter(ContainerdRestart.Restarted);

        string[] lines = Lines(Install(restarter));
        Assert.Equal(1, restarter.Calls);
        string backup = Assert.Single(Directory.GetFiles(_dir, "config.toml.vmsandbox-*.bak"));
        Assert.Equal(
        [
            $"registered runtime handler vmsandbox ({Shim}) in {ConfigToml} (backup: {backup})",
            "restarted containerd (systemctl restart containerd): it reads the runtime handlers now",
            "next: a RuntimeClass with handler: vmsandbox, then pods with its runtimeClassName (docs/kubernetes.md)",
        ], lines);
        Assert.Contains($"runtime_path = \"{Shim}\"", File.ReadAllText(ConfigToml), StringComparison.Ordinal);

        lines = Lines(Install(restarter));
        Assert.Equal($"runtime handler vmsandbox ({Shim}) is already in {ConfigToml}", lines[0]);
        Assert.Equal("containerd not restarted: nothing changed", lines[1]);
        Assert.Equal(1, restarter.Calls);

        lines = Lines(Uninstall(restarter));
        Assert.StartsWith($"removed runtime handler vmsandbox from {ConfigToml} (backup: {ConfigToml}.vmsandbox-", lines[0], StringComparison.Ordinal);
        Assert.Equal(2, restarter.Calls);
        Assert.Equal(Debian, File.ReadAllText(ConfigToml));

        Assert.Equal($"runtime handler vmsandbox is not in {ConfigToml}: nothing to do\n", Uninstall(restarter));
        Assert.Equal(2, restarter.Calls);
    }

    [Theory]
    [InlineData(ContainerdRestart.NotActive, "containerd is not running (systemctl is-active): it reads the runtime handlers when it starts")]
    [InlineData(ContainerdRestart.NoSystemd, "systemd does not run this host: restart containerd yourself, it reads config.toml only when it starts")]
    public void What_the_restarter_found_is_reported(ContainerdRestart outcome, string expected)
    {
        var restarter = new RecordingRestarter(outcome);
        Assert.Contains(expected, Lines(Install(restarter)));
        Assert.Contains(expected, Lines(Uninstall(restarter)));
        Assert.Equal(2, restarter.Calls);
    }

    [Fact]
    public void No_reload_says_how_to_restart_and_restarts_nothing()
    {
        var restarter = new RecordingRestarter(ContainerdRestart.Restarted);
        const string line = "containerd not restarted (--no-reload): it reads config.toml only when it starts; run: systemctl restart containerd";
        Assert.Contains(line, Lines(Install(restarter, "--no-reload")));
        Assert.Contains(line, Lines(Uninstall(restarter, "--no-reload")));
        Assert.Equal(0, restarter.Calls);
    }

    [Fact]
    public void A_missing_shim_a_missing_shim_config_and_a_disabled_cri_plugin_are_warnings()
    {
        File.WriteAllText(ConfigToml, "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n");
        string config = Path.Combine(_dir, "vmsandbox.json");
        string[] lines = Lines(Install(new RecordingRestarter(ContainerdRestart.NotActive), "--config-path", config, "--runtime-name", "vms"));
        Assert.Equal($"registered runtime handler vms ({Shim}, config {config}) in {ConfigToml} (backup: {Assert.Single(Directory.GetFiles(_dir, "*.bak"))})", lines[0]);
        Assert.Equal(
        [
            "warning: disabled_plugins (line 2) turns off containerd's CRI plugin io.containerd.grpc.v1.cri: Kubernetes cannot use the handler until it is taken out of that list",
            $"warning: {Shim} does not exist: containerd cannot start vms pods until it does (make install puts it beside vmsandbox)",
            $"warning: {config} does not exist: the shim reads it when a pod starts",
        ], lines.Where(l => l.StartsWith("warning:", StringComparison.Ordinal)));
        string text = File.ReadAllText(ConfigToml);
        Assert.Contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vms.options]\n  ConfigPath = \"" + config + "\"\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_replaced_table_and_an_added_version_are_reported()
    {
        File.WriteAllText(ConfigToml, "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox]\n  runtime_type = \"io.containerd.vmsandbox.v2\"\n");
        string[] lines = Lines(Install(new RecordingRestarter(ContainerdRestart.NotActive)));
        Assert.StartsWith($"replaced the different table of runtime handler vmsandbox in {ConfigToml} with runtime handler vmsandbox ({Shim}) (backup: ", lines[0], StringComparison.Ordinal);

        File.WriteAllText(ConfigToml, "# empty\n");
        lines = Lines(Install(new RecordingRestarter(ContainerdRestart.NotActive)));
        Assert.EndsWith(", version = 2 added)", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_restart_names_the_journal_and_the_backup()
    {
        File.WriteAllText(ConfigToml, Debian);
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => Install(new FailingRestarter()));
        string backup = Assert.Single(Directory.GetFiles(_dir, "*.bak"));
        Assert.Equal($"restart containerd: systemctl restart containerd: exit code 1: Job for containerd.service failed (fix: journalctl -u containerd -n 50; the config before this change is {backup})",
            VmSandboxException.FormatChain(e));
    }

    [Fact]
    public void Through_the_cli_a_malformed_config_is_one_line_exit_1_and_untouched()
    {
        const string content = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"\n";
        File.WriteAllText(ConfigToml, content);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = CliApp.Run(["install", "--containerd", "--containerd-config", ConfigToml, "--no-reload"], stdout, stderr);
        Assert.Equal(ExitCodes.Failure, rc);
        Assert.Equal($"vmsandbox: {ConfigToml}: line 2: unterminated table header, left unchanged (fix: fix {ConfigToml} or move it away)\n", stderr.ToString());
        Assert.Equal(content, File.ReadAllText(ConfigToml));
        Assert.Empty(Directory.GetFiles(_dir, "*.bak"));
    }

    [Fact]
    public void Through_the_cli_install_uses_the_running_binarys_directory()
    {
        var stdout = new StringWriter();
        int rc = CliApp.Run(["install", "--containerd", "--containerd-config", ConfigToml, "--no-reload"], stdout, new StringWriter());
        Assert.Equal(0, rc);
        string shim = Path.Combine(Path.GetDirectoryName(InstallCommand.SelfPath())!, "containerd-shim-vmsandbox-v2");
        Assert.Contains($"runtime_path = \"{shim}\"", File.ReadAllText(ConfigToml), StringComparison.Ordinal);
        Assert.Equal(0, CliApp.Run(["uninstall", "--containerd", "--containerd-config", ConfigToml, "--no-reload"], new StringWriter(), new StringWriter()));
        Assert.Equal("version = 2\n", File.ReadAllText(ConfigToml));
    }

    [Theory]
    [InlineData("install", true)]
    [InlineData("uninstall", false)]
    public void The_help_lists_the_containerd_flags(string verb, bool configPath)
    {
        var stdout = new StringWriter();
        Assert.Equal(0, CliApp.Run([verb, "--help"], stdout, new StringWriter()));
        string help = stdout.ToString();
        Assert.Contains("  --containerd\n", help, StringComparison.Ordinal);
        Assert.Contains("  --containerd-config VALUE\n", help, StringComparison.Ordinal);
        Assert.Contains("  --daemon-json VALUE\n", help, StringComparison.Ordinal);
        Assert.Equal(configPath, help.Contains("  --config-path VALUE\n", StringComparison.Ordinal));
        stdout = new StringWriter();
        CliApp.Run(["help"], stdout, new StringWriter());
        Assert.Contains("or with containerd's CRI for Kubernetes (install --containerd)", stdout.ToString(), StringComparison.Ordinal);
    }
}
