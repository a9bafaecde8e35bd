using VmSandbox.Agent.Protocol;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// Where the container lifecycle meets the OS: starting the runtime's helper processes, talking
/// to a sandbox (its agent and monitor), probing and killing host processes, host cgroups.
/// <see cref="OsSandboxHost"/> is the real one; unit tests of <see cref="Container"/>'s state
/// rules use a fake, so they need no VM, root or /proc.
/// </summary>
public interface ISandboxHost
{
    /// <summary>
    /// Starts a helper (the sandbox monitor, an exec relay) and waits for its one report. A
    /// failure it reports is thrown as its error, once it has exited; a helper that neither
    /// reports nor exits in time is killed.
    /// </summary>
    (IHelperProcess Helper, MonitorReport Report) Launch(HelperLaunch launch);

    /// <summary>
    /// Boots replacements for the warm pool's claimed VMs (ADR 0018), detached and not waited
    /// for; a failure is logged, never the caller's.
    /// </summary>
    void RefillPool(Config.RuntimeConfig config, Action<string> log);

    /// <summary>The agent and monitor of the sandbox that runs <paramref name="record"/>.</summary>
    IContainerAgent Agent(ContainerRecord record);

    /// <summary>Whether <paramref name="pid"/> is still the process that started at <paramref name="startTime"/>.</summary>
    bool IsAlive(int pid, ulong startTime);

    /// <summary>
    /// SIGKILL to host process <paramref name="pid"/> if it is still the one started at
    /// <paramref name="startTime"/> (/proc/PID/stat; never a process that reused the PID; 0: not
    /// recorded, any); one that is gone already is fine.
    /// </summary>
    void Kill(int pid, ulong startTime);

    IHostCgroups Cgroups { get; }
}

/// <summary>A helper process the lifecycle started; disposing it does not stop it.</summary>
public interface IHelperProcess : IDisposable
{
    int Pid { get; }

    /// <summary>/proc/PID/stat start time, recorded so a recycled PID is never taken for it.</summary>
    ulong StartTime { get; }

    bool HasExited { get; }

    int ExitCode { get; }

    Task WaitForExitAsync(CancellationToken ct = default);

    /// <summary>The caller's ends of the helper's stdin, stdout and stderr pipes (<see cref="HelperLaunch.PipeStdio"/>), else null.</summary>
    HelperStdio? Stdio { get; }

    /// <summary>
    /// For a helper whose PID goes to no one (its launch or the call that started it failed): kills
    /// it through its handle if it still runs, waits up to <paramref name="exitWait"/> for the exit
    /// and reaps it. Safe to call again.
    /// </summary>
    void Abandon(TimeSpan exitWait);
}

/// <summary>
/// A helper's standard streams as pipes its starter holds: a caller whose own stdio is not the
/// container's (the containerd shim copies between these and containerd's FIFOs) starts helpers so.
/// </summary>
public sealed record HelperStdio(Stream Input, Stream Output, Stream Error);

/// <summary>
/// <c>EXE [global flags] VERB --report SOCK ARGS… [--tty P] ID</c>: a helper to start, the socket
/// it reports on, and how long it may take (<paramref name="What"/> names it in errors).
/// </summary>
public sealed record HelperLaunch(string Verb, IReadOnlyList<string> Args, string Id, string? TtyPath, string ReportSocket, TimeSpan Timeout, string What)
{
    /// <summary>The helper's stdio are pipes to the caller (<see cref="IHelperProcess.Stdio"/>), not the caller's own; ignored with a tty.</summary>
    public bool PipeStdio { get; init; }

    /// <summary>
    /// Called with the helper's PID when a monitor reports, before its final report, that it is in
    /// the container's network namespace (<see cref="Sandbox.MonitorReport.NamespaceReady"/>): the
    /// create hooks run then, while the VM boots. What it throws fails the launch.
    /// </summary>
    public Action<int>? NamespaceReady { get; init; }
}

/// <summary>One sandbox's guest agent (container operations) and monitor (what needs the VM's owner).</summary>
public interface IContainerAgent
{
    /// <summary>The monitor mirrors interfaces that appeared in the network namespace since boot.</summary>
    void SyncNetwork();

    void Start();

    /// <summary>A signal to the container's init (or every process); SIGKILL is bounded to a few seconds.</summary>
    void Signal(int signal, bool all);

    /// <summary>Has the monitor SIGKILL the VM: `kill -9` of a guest whose agent does not answer.</summary>
    void KillVm();

    /// <summary>A signal to one exec'd process, by the exec ID its session gave the agent.</summary>
    void SignalExec(string execId, int signal);

    void Pause();

    void Resume();

    /// <summary>New guest cgroup limits: an OCI LinuxResources JSON object.</summary>
    void Update(byte[] resourcesJson);

    ListProcessesResponse ListProcesses();

    StatsResponse Stats();
}

/// <summary>The host cgroup that holds a sandbox's processes (<see cref="HostCgroup"/>).</summary>
public interface IHostCgroups
{
    IReadOnlyList<string> Resolve(string? cgroupsPath, string id, bool systemd);

    void ThrowIfFrozen(IReadOnlyList<string> dirs);

    int CountProcesses(IReadOnlyList<string> dirs);

    void SetCpuset(IReadOnlyList<string> dirs, string? cpus, string? mems);

    /// <summary>False when a directory is still busy after <paramref name="wait"/>.</summary>
    bool Remove(IReadOnlyList<string> dirs, TimeSpan wait);
}
