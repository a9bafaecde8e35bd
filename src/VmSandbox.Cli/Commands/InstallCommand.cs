using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox install --docker [--daemon-json PATH] [--runtime-name NAME] [--no-reload]`: registers
/// this binary (/proc/self/exe) as a Docker runtime in daemon.json and reloads dockerd, after
/// which `docker run --runtime=vmsandbox …` works.
/// `vmsandbox install --containerd [--containerd-config PATH] [--runtime-name NAME] [--config-path PATH] [--no-reload]`:
/// adds the CRI runtime handler for containerd-shim-vmsandbox-v2 (beside this binary) to
/// containerd's config.toml and restarts containerd, after which a Kubernetes RuntimeClass with
/// that handler works. Running either again changes nothing.
/// </summary>
public static class InstallCommand
{
    public static int Run(ArgReader reader, TextWriter stdout) =>
        Run(reader, stdout, new DockerReloader(), new SystemdContainerdRestarter(), SelfPath());

    internal static int Run(ArgReader reader, TextWriter stdout, IDockerReloader reloader, IContainerdRestarter restarter, string binary)
    {
        var flags = InstallFlags.Parse(reader, "install");
        return flags.Target == InstallTarget.Docker
            ? Docker(flags, stdout, reloader, binary)
            : Containerd(flags, stdout, restarter, binary);
    }

    private static int Docker(InstallFlags flags, TextWriter stdout, IDockerReloader reloader, string binary)
    {
        var config = new DockerDaemonConfig(flags.ConfigFile);
        DaemonConfigChange change = config.AddRuntime(flags.RuntimeName, binary);
        if (!change.Changed)
        {
            stdout.WriteLine($"runtime {flags.RuntimeName} ({binary}) is already in {config.Path}");
        }
        else
        {
            string how = change.Created ? "created" : $"backup: {change.BackupPath}";
            stdout.WriteLine($"registered runtime {flags.RuntimeName} ({binary}) in {config.Path} ({how})");
        }
        InstallReload.Docker(flags, reloader, stdout);
        stdout.WriteLine($"try: docker run --rm --runtime={flags.RuntimeName} IMAGE COMMAND");
        return ExitCodes.Success;
    }

    private static int Containerd(InstallFlags flags, TextWriter stdout, IContainerdRestarter restarter, string binary)
    {
        string shim = Path.Combine(Path.GetDirectoryName(binary) ?? "/", CriRuntimeHandler.ShimBinaryName);
        var config = new ContainerdConfig(flags.ConfigFile);
        ContainerdConfigChange change = config.AddRuntime(new CriRuntimeHandler(flags.RuntimeName, shim, flags.ShimConfigPath));
        string handler = $"runtime handler {flags.RuntimeName} ({shim}{(flags.ShimConfigPath is null ? "" : ", config " + flags.ShimConfigPath)})";
        if (!change.Changed)
        {
            stdout.WriteLine($"{handler} is already in {config.Path}");
        }
        else
        {
            string how = (change.Created ? "created" : $"backup: {change.BackupPath}") + (change.VersionAdded ? ", version = 2 added" : "");
            stdout.WriteLine(change.Replaced
                ? $"replaced the different table of runtime handler {flags.RuntimeName} in {config.Path} with {handler} ({how})"
                : $"registered {handler} in {config.Path} ({how})");
        }
        foreach (string warning in change.Warnings)
        {
            stdout.WriteLine($"warning: {warning}");
        }
        if (!File.Exists(shim))
        {
            stdout.WriteLine($"warning: {shim} does not exist: containerd cannot start {flags.RuntimeName} pods until it does (make install puts it beside vmsandbox)");
        }
        if (flags.ShimConfigPath is { } configPath && !File.Exists(configPath))
        {
            stdout.WriteLine($"warning: {configPath} does not exist: the shim reads it when a pod starts");
        }
        if (change.Changed)
        {
            InstallReload.Containerd(flags, restarter, stdout, change.BackupPath);
        }
        else
        {
            stdout.WriteLine("containerd not restarted: nothing changed");
        }
        stdout.WriteLine($"next: a RuntimeClass with handler: {flags.RuntimeName}, then pods with its runtimeClassName (docs/kubernetes.md)");
        return ExitCodes.Success;
    }

    /// <summary>The running executable, as the kernel names it (not argv[0], which a caller chooses).</summary>
    internal static string SelfPath()
    {
        string? target = File.ResolveLinkTarget("/proc/self/exe", returnFinalTarget: false)?.FullName;
        return target ?? throw new VmSandboxException(ErrorCode.System, "readlink /proc/self/exe: no target");
    }
}
