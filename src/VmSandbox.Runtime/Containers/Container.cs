using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// One container and its lifecycle: create, start, kill, exec, pause, resume, update, delete,
/// state. Every operation first asks <see cref="ContainerRules"/> whether the container's
/// status allows it; the OS is reached only through <see cref="ContainerRuntime.Host"/>. The CLI's
/// verbs and the containerd shim are thin callers of this type. Its sandbox (VM, devices, agent
/// connection) is owned by the sandbox monitor process (<see cref="MonitorProcess"/>).
/// </summary>
public sealed partial class Container : IDisposable
{
    private readonly ContainerRuntime _rt;
    private RuntimeSpec? _spec;

    private Container(ContainerRuntime rt, ContainerRecord record, RuntimeSpec? spec = null)
    {
        _rt = rt;
        Record = record;
        _spec = spec;
    }

    public string Id => Record.Id;

    public ContainerRecord Record { get; private set; }

    /// <summary>Derived each time from the monitor's liveness, its exit file and the record's flags; never stored.</summary>
    public ContainerStatus Status => ContainerStore.StatusOf(Record, _rt.Host.IsAlive, _rt.Store.ExitRecorded(Id));

    /// <summary>The config create validated, read from the container's own copy (parsed once per process).</summary>
    public RuntimeSpec Spec => _spec ??= _rt.Store.LoadSpec(Record).Spec;

    /// <summary>The sandbox monitor when this process created the container (`run` waits on it).</summary>
    public IHelperProcess? Monitor { get; private set; }

    public static Container Load(ContainerRuntime rt, string id) => new(rt, rt.Store.Load(id));

    /// <summary>The OCI state, as `runc state` prints it.</summary>
    public ContainerState State()
    {
        ContainerStatus status = Status;
        if (status == ContainerStatus.Stopped)
        {
            NoteLostMonitor();
        }
        return ContainerStore.ToState(Record, status);
    }

    /// <summary>
    /// A monitor that ended without recording the container's exit was killed (or crashed): it
    /// could not say so itself, so the first caller that sees it stopped says it in its log, once.
    /// Its QEMU and virtiofsd went with it (their parent-death signal); delete removes the rest.
    /// </summary>
    private void NoteLostMonitor()
    {
        if (Record.MonitorPid <= 0 || Record.SandboxId is not null || _rt.Store.ReadExit(Id) is not null)
        {
            return;
        }
        string log = Path.Combine(_rt.Store.DirOf(Id), "monitor.log");
        const string Note = "ended without recording the container's exit";
        try
        {
            if (File.Exists(log) && File.ReadLines(log).Any(l => l.Contains(Note, StringComparison.Ordinal)))
            {
                return;
            }
        }
        catch (IOException)
        {
            return;
        }
        MonitorProcess.HelperLog(_rt, Id)($"container {Id}: sandbox monitor {Record.MonitorPid} {Note} (killed or crashed); its vm went with it");
    }

    /// <summary>Lets the created process exec its entrypoint, then runs the poststart hooks.</summary>
    public void Start()
    {
        PhaseLog.Mark(_rt.Config.PhaseLogPath, Id, "start");
        using ContainerLock held = LockAndReload();
        ContainerRules.Check(ContainerOperation.Start, Status, Id);
        IContainerAgent agent = _rt.Host.Agent(Record);
        // Interfaces wired into the namespace after create (Docker's prestart hook) get their NIC
        // now, before the process can see a half-configured network.
        agent.SyncNetwork();
        agent.Start();
        PhaseLog.Mark(_rt.Config.PhaseLogPath, Id, "running");
        Save(Record with { Started = true });
        _rt.Log.Debug($"start {Id}: the container process runs its entrypoint");
        HookPhase.Run(_rt.Log, Record, Spec.Hooks, HookKind.Poststart, ContainerStatus.Running);
    }

    /// <summary>Signals the container's init, or with <paramref name="all"/> every process of it.</summary>
    public void Kill(int signal, bool all)
    {
        if (ContainerRules.Check(all ? ContainerOperation.KillAll : ContainerOperation.Kill, Status, Id) == RuleVerdict.Proceed)
        {
            SignalOrKillVm(signal, all);
        }
    }

    /// <summary>
    /// runc compat: SIGKILL cannot be refused. A guest whose agent does not answer it (a hung
    /// guest, a stopped QEMU) is killed with its VM by the monitor that owns it, so `kill -9`,
    /// `delete --force` and `docker stop` end within their bounds. Not for a pod member: the VM is
    /// the whole pod's.
    /// </summary>
    private void SignalOrKillVm(int signal, bool all)
    {
        IContainerAgent agent = _rt.Host.Agent(Record);
        try
        {
            agent.Signal(signal, all);
        }
        catch (Exception e) when (signal == SigKill && Record.SandboxId is null && IsUnanswered(e))
        {
            _rt.Log.Warn($"kill {Id}: the guest agent did not answer SIGKILL ({VmSandboxException.FormatChain(e)}); killing the vm");
            agent.KillVm();
        }
    }

    private const int SigKill = 9;

    /// <summary>No answer (a timeout, a broken connection), as opposed to the agent's own refusal.</summary>
    private static bool IsUnanswered(Exception e) => e switch
    {
        TtrpcException t => t.Status is StatusCode.DeadlineExceeded or StatusCode.Unavailable,
        VmSandboxException v => v.Code is ErrorCode.Timeout,
        _ => e is IOException or System.Net.Sockets.SocketException or OperationCanceledException,
    };

    /// <summary>Freezes every process of the container (its guest cgroup).</summary>
    public void Pause()
    {
        using ContainerLock held = LockAndReload();
        ContainerRules.Check(ContainerOperation.Pause, Status, Id);
        _rt.Host.Agent(Record).Pause();
        Save(Record with { Paused = true });
    }

    public void Resume()
    {
        using ContainerLock held = LockAndReload();
        ContainerRules.Check(ContainerOperation.Resume, Status, Id);
        _rt.Host.Agent(Record).Resume();
        Save(Record with { Paused = false });
    }

    /// <summary>
    /// New limits: a cpuset pins the VM through the host cgroup; the rest are the guest cgroup's
    /// (<paramref name="json"/> is <paramref name="resources"/> as the guest reads it).
    /// </summary>
    public void Update(LinuxResources resources, byte[] json)
    {
        using ContainerLock held = LockAndReload();
        ContainerRules.Check(ContainerOperation.Update, Status, Id);
        _rt.Host.Cgroups.SetCpuset(Record.HostCgroups ?? [], resources.Cpu?.Cpus, resources.Cpu?.Mems);
        _rt.Host.Agent(Record).Update(json);
    }

    /// <summary>The guest cgroup's statistics.</summary>
    public StatsResponse Stats()
    {
        ContainerRules.Check(ContainerOperation.Inspect, Status, Id);
        return _rt.Host.Agent(Record).Stats();
    }

    /// <summary>The container's processes as the guest sees them.</summary>
    public ListProcessesResponse GuestProcesses()
    {
        ContainerRules.Check(ContainerOperation.Inspect, Status, Id);
        return _rt.Host.Agent(Record).ListProcesses();
    }

    /// <summary>
    /// The container's host PIDs: its sandbox, the monitor and every process below it (QEMU,
    /// virtiofsd); none once stopped (runc: not an error).
    /// </summary>
    public IReadOnlyList<int> HostPids() => Status == ContainerStatus.Stopped ? []
        : Record.PoolVmPid > 0 && ProcessProbe.IsAlive(Record.PoolVmPid, Record.PoolVmStartTime)
            // A pooled VM's QEMU and virtiofsd are its holder's children, not the monitor's (ADR 0018).
            ? [.. ProcessProbe.SelfAndDescendants(Record.MonitorPid).Concat(ProcessProbe.SelfAndDescendants(Record.PoolVmPid)).Order()]
            : ProcessProbe.SelfAndDescendants(Record.MonitorPid);

    public void Dispose() => Monitor?.Dispose();

    /// <summary>
    /// Takes the container's lock (<see cref="ContainerLock"/>) and reads its record again: another
    /// call may have changed it (a start) or removed it (a delete) while this one waited.
    /// </summary>
    private ContainerLock LockAndReload()
    {
        ContainerLock held = ContainerLock.Acquire(_rt.Store.DirOf(Id), Id, ContainerLock.WaitFor(_rt.Config));
        try
        {
            Record = _rt.Store.Load(Id);
            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    private void Save(ContainerRecord record)
    {
        _rt.Store.Save(record);
        Record = record;
    }
}
