using VmSandbox.Common;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox uninstall --docker [--daemon-json PATH] [--runtime-name NAME] [--no-reload]`: removes
/// our runtime from daemon.json (nothing else) and reloads dockerd. Running it again changes nothing.
/// </summary>
public static class UninstallCommand
{
    public static int Run(ArgReader reader, TextWriter stdout) => Run(reader, stdout, new DockerReloader());

    internal static int Run(ArgReader reader, TextWriter stdout, IDockerReloader reloader)
    {
        var options = DockerInstallFlags.Parse(reader, "uninstall");
        var config = new DockerDaemonConfig(options.DaemonJson);
        DaemonConfigChange change = config.RemoveRuntime(options.RuntimeName);
        if (!change.Changed)
        {
            stdout.WriteLine($"runtime {options.RuntimeName} is not in {config.Path}: nothing to do");
            return ExitCodes.Success;
        }
        stdout.WriteLine($"removed runtime {options.RuntimeName} from {config.Path} (backup: {change.BackupPath})");
        options.ReportReload(reloader, stdout);
        return ExitCodes.Success;
    }
}
