using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox uninstall --docker [--daemon-json PATH] [--runtime-name NAME] [--no-reload]`: removes
/// our runtime from daemon.json (nothing else) and reloads dockerd.
/// `vmsandbox uninstall --containerd [--containerd-config PATH] [--runtime-name NAME] [--no-reload]`:
/// takes our runtime handler's tables out of config.toml (nothing else) and restarts containerd.
/// Running either again changes nothing.
/// </summary>
public static class UninstallCommand
{
    public static int Run(ArgReader reader, TextWriter stdout) =>
        Run(reader, stdout, new DockerReloader(), new SystemdContainerdRestarter());

    internal static int Run(ArgReader reader, TextWriter stdout, IDockerReloader reloader, IContainerdRestarter restarter)
    {
        var flags = InstallFlags.Parse(reader, "uninstall");
        if (flags.Target == InstallTarget.Docker)
        {
            var daemonJson = new DockerDaemonConfig(flags.ConfigFile);
            DaemonConfigChange change = daemonJson.RemoveRuntime(flags.RuntimeName);
            if (!change.Changed)
            {
                stdout.WriteLine($"runtime {flags.RuntimeName} is not in {daemonJson.Path}: nothing to do");
                return ExitCodes.Success;
            }
            stdout.WriteLine($"removed runtime {flags.RuntimeName} from {daemonJson.Path} (backup: {change.BackupPath})");
            InstallReload.Docker(flags, reloader, stdout);
            return ExitCodes.Success;
        }
        var configToml = new ContainerdConfig(flags.ConfigFile);
        ContainerdConfigChange removed = configToml.RemoveRuntime(flags.RuntimeName);
        if (!removed.Changed)
        {
            stdout.WriteLine($"runtime handler {flags.RuntimeName} is not in {configToml.Path}: nothing to do");
            return ExitCodes.Success;
        }
        stdout.WriteLine($"removed runtime handler {flags.RuntimeName} from {configToml.Path} (backup: {removed.BackupPath})");
        InstallReload.Containerd(flags, restarter, stdout, removed.BackupPath);
        return ExitCodes.Success;
    }
}
