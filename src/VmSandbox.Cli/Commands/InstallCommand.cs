using VmSandbox.Common;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox install --docker [--daemon-json PATH] [--runtime-name NAME] [--no-reload]`: registers
/// this binary (/proc/self/exe) as a Docker runtime in daemon.json and reloads dockerd, after
/// which `docker run --runtime=vmsandbox …` works. Running it again changes nothing.
/// </summary>
public static class InstallCommand
{
    public static int Run(ArgReader reader, TextWriter stdout) =>
        Run(reader, stdout, new DockerReloader(), SelfPath());

    internal static int Run(ArgReader reader, TextWriter stdout, IDockerReloader reloader, string binary)
    {
        var options = DockerInstallFlags.Parse(reader, "install");
        var config = new DockerDaemonConfig(options.DaemonJson);
        DaemonConfigChange change = config.AddRuntime(options.RuntimeName, binary);
        if (!change.Changed)
        {
            stdout.WriteLine($"runtime {options.RuntimeName} ({binary}) is already in {config.Path}");
        }
        else
        {
            string how = change.Created ? "created" : $"backup: {change.BackupPath}";
            stdout.WriteLine($"registered runtime {options.RuntimeName} ({binary}) in {config.Path} ({how})");
        }
        options.ReportReload(reloader, stdout);
        stdout.WriteLine($"try: docker run --rm --runtime={options.RuntimeName} IMAGE COMMAND");
        return ExitCodes.Success;
    }

    /// <summary>The running executable, as the kernel names it (not argv[0], which a caller chooses).</summary>
    internal static string SelfPath()
    {
        string? target = File.ResolveLinkTarget("/proc/self/exe", returnFinalTarget: false)?.FullName;
        return target ?? throw new VmSandboxException(ErrorCode.System, "readlink /proc/self/exe: no target");
    }
}
