using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// The hidden verb `create` runs the sandbox monitor with:
/// `vmsandbox [global flags] __monitor --report SOCK [--tty /dev/pts/N] ID`.
/// It leaves the caller's session, enters the container's network namespace (a new one, or the
/// one named in config.json, so that Docker's prestart hook finds it at /proc/PID/ns/net), and
/// runs <see cref="SandboxMonitor"/> until the container ends; its exit status is the container's.
/// Its main thread only waits, in a <see cref="RootfsView"/> of the container's root.
/// </summary>
public static class MonitorCommand
{
    public const string Verb = "__monitor";

    private static readonly string[] s_valueFlags = ["report", "tty"];

    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, Verb, s_valueFlags, []);
        string id = LifecycleContext.SingleId(args.Positional, Verb);
        string report = args.Value("report") ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{Verb}: --report is required");
        _ = Interop.ProcessCalls.NewSession(); // false only if already a group leader: then already detached enough
        string logPath = Path.Combine(ctx.Store.DirOf(id), "monitor.log");
        void Log(string line)
        {
            try
            {
                File.AppendAllText(logPath, $"{DateTimeOffset.UtcNow:O} {line}\n");
            }
            catch (IOException)
            {
            }
        }
        // Namespaces are per thread: enter the network namespace on the main thread, before
        // anything else runs, so /proc/<monitor pid>/ns/net is the container's.
        try
        {
            EnterNetworkNamespace(Path.Combine(ctx.Store.DirOf(id), ContainerStore.ConfigCopy));
        }
        catch (Exception e)
        {
            Log(VmSandboxException.FormatChain(e));
            var failed = new SandboxMonitor(ctx.Store, id, ctx.Config, report, null, Log);
            return failed.ReportFailure(e).GetAwaiter().GetResult();
        }
        var monitor = new SandboxMonitor(ctx.Store, id, ctx.Config, report, args.Value("tty"), Log);
        // The work runs on the thread pool; the main thread, which stands for the container in
        // /proc/PID/ns/mnt and /proc/PID/root, shows its rootfs (podman cp) and only waits.
        Task<int> running = Task.Run(() => monitor.RunAsync(CancellationToken.None));
        using RootfsView? view = EnterRootfsView(ctx.Store, id, Log);
        return running.GetAwaiter().GetResult();
    }

    private static RootfsView? EnterRootfsView(ContainerStore store, string id, Action<string> log)
    {
        try
        {
            LoadedSpec loaded = SpecLoader.Load(store.Load(id).Bundle);
            return RootfsView.Enter(loaded.RootfsPath, loaded.Spec.Root?.Readonly ?? false);
        }
        catch (Exception e) when (e is VmSandboxException or IOException)
        {
            // The container still runs; `podman cp` into it then writes the host's files.
            log($"rootfs view for /proc/{Environment.ProcessId}/root: {VmSandboxException.FormatChain(e)}");
            return null;
        }
    }

    private static void EnterNetworkNamespace(string configPath)
    {
        RuntimeSpec spec = SpecLoader.Parse(File.ReadAllBytes(configPath), configPath);
        LinuxNamespace? net = spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network");
        if (net is null)
        {
            return; // runc compat: no network namespace in the spec means the host's.
        }
        if (string.IsNullOrEmpty(net.Path))
        {
            Interop.Namespace.Unshare(Interop.Namespace.CLONE_NEWNET);
        }
        else
        {
            Interop.Namespace.Join(net.Path, Interop.Namespace.CLONE_NEWNET);
        }
    }
}
