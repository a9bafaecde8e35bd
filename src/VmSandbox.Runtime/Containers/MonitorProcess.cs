using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// The sandbox monitor's process, the runtime binary under a hidden verb that create starts:
/// <c>__monitor --report SOCK [--tty /dev/pts/N] ID</c>. It leaves the caller's session, enters
/// the container's network namespace (a new one, or the one named in the config, so that Docker's
/// prestart hook finds it at /proc/PID/ns/net), and runs <see cref="SandboxMonitor"/> until the
/// container ends; its exit status is the container's. With the warm pool on (ADR 0018) it first
/// tries to claim a pooled VM, whose network namespace it then joins instead, and runs the
/// container there as a pod member's relay does (<see cref="MemberProcess.RunPooledAsync"/>). It reads the config create validated (the
/// container's copy) once and hands the monitor that typed launch. Its main thread only waits, in
/// a <see cref="RootfsView"/> of the container's root.
/// </summary>
public static class MonitorProcess
{
    public const string Verb = "__monitor";

    public static int Run(ContainerRuntime rt, string id, string report, string? ttyPath)
    {
        _ = Interop.ProcessCalls.NewSession(); // false only if already a group leader: then already detached enough
        Action<string> log = HelperLog(rt, id);
        PhaseLog.Mark(rt.Config.PhaseLogPath, id, "monitor");
        MonitorLaunch launch;
        PoolClaim? claim = null;
        try
        {
            ContainerRecord record = rt.Store.Load(id);
            launch = new MonitorLaunch(id, record.RunDir, record.HostCgroups ?? [], rt.Store.LoadSpec(record), code => rt.Store.WriteExit(id, code))
            {
                LoadMember = member =>
                {
                    ContainerRecord m = rt.Store.Load(member);
                    return m.SandboxId == id ? rt.Store.LoadSpec(m)
                        : throw new VmSandboxException(ErrorCode.InvalidArgument, $"container {member} is not a pod member of {id}");
                },
            };
            // Namespaces are per thread: enter the network namespace on the main thread, before
            // anything else runs, so /proc/<monitor pid>/ns/net is the container's.
            EnterNetworkNamespace(launch.Spec.Spec);
            // A pooled VM brings a new network namespace of its own, wired as this one would be.
            if (WarmPool.Unfit(launch.Spec.Spec, rt.Config) is null && WarmPool.TryClaim(rt.Config, rt.Store.Root, id, log) is { } taken)
            {
                claim = taken;
                PhaseLog.Mark(rt.Config.PhaseLogPath, id, "pool-claimed");
                Interop.Namespace.Join($"/proc/{taken.Pid}/ns/net", Interop.Namespace.CLONE_NEWNET);
                log($"container {id}: took pooled vm {Path.GetFileName(taken.Dir)}");
                // The pooled VM's namespace is mirrored at `start`: its hooks may wire it now,
                // while the guest creates the container (SandboxMonitor does the same at boot).
                if (SandboxMonitor.WiredByHooks(launch.Spec.Spec))
                {
                    MonitorReport.SendAsync(report, new MonitorReport { NamespaceReady = true }, log).GetAwaiter().GetResult();
                }
            }
        }
        catch (Exception e)
        {
            log(VmSandboxException.FormatChain(e));
            return SandboxMonitor.ReportFailureAsync(report, e, log).GetAwaiter().GetResult();
        }
        // The work runs on the thread pool; the main thread, which stands for the container in
        // /proc/PID/ns/mnt and /proc/PID/root, shows its rootfs (podman cp) and only waits.
        Task<int> running = claim is not null
            ? Task.Run(() => MemberProcess.RunPooledAsync(rt, id, report, ttyPath, claim, log))
            : Task.Run(() => new SandboxMonitor(launch, rt.Config, report, ttyPath, log).RunAsync(CancellationToken.None));
        using RootfsView? view = EnterRootfsView(launch.Spec, log);
        return running.GetAwaiter().GetResult();
    }

    private static RootfsView? EnterRootfsView(LoadedSpec loaded, Action<string> log)
    {
        try
        {
            return RootfsView.Enter(loaded.RootfsPath, loaded.Spec.Root?.Readonly ?? false);
        }
        catch (Exception e) when (e is VmSandboxException or IOException)
        {
            // The container still runs; `podman cp` into it then writes the host's files.
            log($"rootfs view for /proc/{Environment.ProcessId}/root: {VmSandboxException.FormatChain(e)}");
            return null;
        }
    }

    private static void EnterNetworkNamespace(RuntimeSpec spec)
    {
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

    /// <summary>
    /// The sandbox helper's log, STATE/ID/monitor.log: one timestamped line per message; a write
    /// that fails (the state directory going at delete) is dropped.
    /// </summary>
    public static Action<string> HelperLog(ContainerRuntime rt, string id) => LogTo(Path.Combine(rt.Store.DirOf(id), "monitor.log"));

    /// <summary>
    /// How large a helper's log may grow: some of its lines follow what the guest does (OOM
    /// kills, agent errors), and a guest must not fill the host's disk through them (issue 15).
    /// </summary>
    public const long LogLimitBytes = 8 << 20;

    /// <summary>
    /// Appends one timestamped line per message to <paramref name="path"/>; a write that fails (its
    /// directory going) is dropped, and so is every line that would take the log past
    /// <paramref name="limit"/> bytes: a short line saying so takes its place until the log is full
    /// (the log ends at most that one line past the limit).
    /// </summary>
    public static Action<string> LogTo(string path, long limit = LogLimitBytes) => line =>
    {
        try
        {
            var info = new FileInfo(path);
            long size = info.Exists ? info.Length : 0;
            if (size >= limit)
            {
                return;
            }
            string text = $"{DateTimeOffset.UtcNow:O} {line}\n";
            if (size + text.Length > limit)
            {
                text = $"{DateTimeOffset.UtcNow:O} log reached {limit} bytes: further lines are dropped\n";
            }
            File.AppendAllText(path, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    };
}
