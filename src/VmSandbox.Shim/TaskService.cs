using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.State;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Containers;
using VmSandbox.Shim.Protocol;
using VmSandbox.Shim.Protocol.Cgroups2;
using VmSandbox.Ttrpc;
using AgentStats = VmSandbox.Agent.Protocol.StatsResponse;

namespace VmSandbox.Shim;

/// <summary>
/// containerd's Task service (containerd.task.v2.Task) over the container core: every lifecycle
/// step is a <see cref="Container"/> call, exactly as the CLI makes it (ADR 0015); what is the
/// shim's own is containerd's view around it: processes with exec IDs, stdio FIFOs, Wait, and the
/// events in containerd's required order (create, start, exit, delete; exec-added, exec-started,
/// exit). The core's calls block (a create boots a VM), so each runs off the ttrpc threads.
/// </summary>
public sealed class TaskService
{
    public const string ServiceName = "containerd.task.v2.Task";
    public const string CgroupsV2MetricsType = "io.containerd.cgroups.v2.Metrics";
    private static readonly TimeSpan s_outputGrace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_consoleWait = TimeSpan.FromSeconds(10);

    private readonly ShimPaths _paths;
    private readonly EventPublisher _events;
    private readonly IRuntimeLog _log;
    private readonly bool _debug;
    private readonly ConcurrentDictionary<string, ShimTask> _tasks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _creating = new(StringComparer.Ordinal);

    public TaskService(ShimPaths paths, EventPublisher events, IRuntimeLog log, bool debug)
    {
        _paths = paths;
        _events = events;
        _log = log;
        _debug = debug;
    }

    /// <summary>Fires when containerd's Shutdown finds no task left: the shim then exits.</summary>
    public CancellationTokenSource ShutdownRequested { get; } = new();

    public void Register(TtrpcServer server) => server.RegisterService(ServiceName, s => s
        .AddMethod<StateRequest, StateResponse>("State", StateRequest.Parser, (r, _) => Off(() => State(r)))
        .AddMethod<CreateTaskRequest, CreateTaskResponse>("Create", CreateTaskRequest.Parser, (r, _) => Off(() => Create(r)))
        .AddMethod<StartRequest, StartResponse>("Start", StartRequest.Parser, (r, _) => Off(() => Start(r)))
        .AddMethod<DeleteRequest, DeleteResponse>("Delete", DeleteRequest.Parser, (r, _) => Off(() => Delete(r)))
        .AddMethod<PidsRequest, PidsResponse>("Pids", PidsRequest.Parser, (r, _) => Off(() => Pids(r)))
        .AddMethod<PauseRequest, Empty>("Pause", PauseRequest.Parser, (r, _) => Off(() => Pause(r.Id)))
        .AddMethod<ResumeRequest, Empty>("Resume", ResumeRequest.Parser, (r, _) => Off(() => Resume(r.Id)))
        .AddMethod<CheckpointTaskRequest, Empty>("Checkpoint", CheckpointTaskRequest.Parser, (_, _) =>
            throw new TtrpcException(StatusCode.Unimplemented, "checkpoint is not implemented by vmsandbox"))
        .AddMethod<KillRequest, Empty>("Kill", KillRequest.Parser, (r, _) => Off(() => Kill(r)))
        .AddMethod<ExecProcessRequest, Empty>("Exec", ExecProcessRequest.Parser, (r, _) => Off(() => Exec(r)))
        .AddMethod<ResizePtyRequest, Empty>("ResizePty", ResizePtyRequest.Parser, (r, _) => Off(() => ResizePty(r)))
        .AddMethod<CloseIORequest, Empty>("CloseIO", CloseIORequest.Parser, (r, _) => Off(() => CloseIO(r)))
        .AddMethod<UpdateTaskRequest, Empty>("Update", UpdateTaskRequest.Parser, (r, _) => Off(() => Update(r)))
        .AddMethod<WaitRequest, WaitResponse>("Wait", WaitRequest.Parser, WaitAsync)
        .AddMethod<StatsRequest, Protocol.StatsResponse>("Stats", StatsRequest.Parser, (r, _) => Off(() => Stats(r)))
        .AddMethod<ConnectRequest, ConnectResponse>("Connect", ConnectRequest.Parser, (r, _) => Off(() => Connect(r)))
        .AddMethod<ShutdownRequest, Empty>("Shutdown", ShutdownRequest.Parser, (r, _) => Off(() => Shutdown(r))));

    /// <summary>The tasks still here: `shim delete` and a dying shim clean these up.</summary>
    public IReadOnlyCollection<ShimTask> Tasks => [.. _tasks.Values];

    public CreateTaskResponse Create(CreateTaskRequest r)
    {
        if (r.Checkpoint.Length > 0 || r.ParentCheckpoint.Length > 0)
        {
            throw new TtrpcException(StatusCode.Unimplemented, "restore from a checkpoint is not implemented by vmsandbox");
        }
        if (_tasks.ContainsKey(r.Id) || !_creating.TryAdd(r.Id, true))
        {
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"task {r.Id}: already exists");
        }
        try
        {
            return CreateClaimed(r);
        }
        finally
        {
            _creating.TryRemove(r.Id, out _);
        }
    }

    private CreateTaskResponse CreateClaimed(CreateTaskRequest r)
    {
        string bundle = Path.GetFullPath(r.Bundle);
        var io = new ProcessStdio(r.Stdin, r.Stdout, r.Stderr, r.Terminal, _log, r.Id, _paths.Namespace);
        RootfsMount? rootfs = null;
        ConsoleReceiver? console = null;
        Container? container = null;
        try
        {
            rootfs = RootfsMount.MountAll(bundle, r.Rootfs);
            console = r.Terminal ? new ConsoleReceiver(_paths.SocketDir) : null;
            ContainerRuntime rt = _paths.RuntimeFor(bundle, _log, _debug);
            container = Container.Create(rt, r.Id, new CreateOptions { Bundle = bundle, ConsoleSocket = console?.Path, PipeStdio = console is null });
            IHelperProcess monitor = container.Monitor ?? throw new VmSandboxException(ErrorCode.Internal, $"create {r.Id}: no sandbox monitor");
            if (console is not null)
            {
                io.AttachConsole(console.TakeMaster(s_consoleWait));
            }
            else
            {
                io.AttachPipes(monitor.Stdio ?? throw new VmSandboxException(ErrorCode.Internal, $"create {r.Id}: the monitor's stdio are not ours"));
            }
            var init = new ShimProcess("", io) { Helper = monitor };
            var task = new ShimTask(r.Id, bundle, container, init, rootfs);
            _tasks[r.Id] = task;
            _events.Publish(EventPublisher.TopicCreate, new TaskCreate
            {
                ContainerId = r.Id,
                Bundle = bundle,
                Rootfs = { r.Rootfs },
                Io = new TaskIO { Stdin = r.Stdin, Stdout = r.Stdout, Stderr = r.Stderr, Terminal = r.Terminal },
                Pid = init.Pid,
            });
            _ = WatchAsync(task, init);
            return new CreateTaskResponse { Pid = init.Pid };
        }
        catch
        {
            if (container is not null)
            {
                TryDeleteContainer(container);
            }
            rootfs?.Unmount();
            io.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
        finally
        {
            console?.Dispose();
        }
    }

    public StartResponse Start(StartRequest r)
    {
        ShimTask task = Get(r.Id);
        if (r.ExecId.Length == 0)
        {
            task.Container.Start();
            task.Init.Started = true;
            _events.Publish(EventPublisher.TopicStart, new TaskStart { ContainerId = r.Id, Pid = task.Init.Pid });
            return new StartResponse { Pid = task.Init.Pid };
        }
        ShimProcess exec = GetExec(task, r.ExecId);
        lock (task.Lock)
        {
            if (exec.Started)
            {
                throw new VmSandboxException(ErrorCode.FailedPrecondition, $"exec {r.ExecId} of task {r.Id}: already started");
            }
            exec.Started = true;
        }
        string specFile = Path.Combine(_paths.StoreRoot, r.Id, $"exec-{exec.AgentExecId}.json");
        ConsoleReceiver? console = exec.Io.Terminal ? new ConsoleReceiver(_paths.SocketDir) : null;
        try
        {
            File.WriteAllBytes(specFile, exec.SpecJson ?? []);
            exec.Helper = task.Container.ExecDetached(new ExecRequest
            {
                ProcessFile = specFile,
                Detach = true,
                ConsoleSocket = console?.Path,
                ExecId = exec.AgentExecId,
                PipeStdio = console is null,
            });
            if (console is not null)
            {
                exec.Io.AttachConsole(console.TakeMaster(s_consoleWait));
            }
            else
            {
                exec.Io.AttachPipes(exec.Helper.Stdio ?? throw new VmSandboxException(ErrorCode.Internal, "exec: the relay's stdio are not ours"));
            }
        }
        catch
        {
            exec.SetExited(ExitCodes.Failure, DateTimeOffset.UtcNow);
            throw;
        }
        finally
        {
            console?.Dispose();
            File.Delete(specFile);
        }
        _events.Publish(EventPublisher.TopicExecStarted, new TaskExecStarted { ContainerId = r.Id, ExecId = r.ExecId, Pid = exec.Pid });
        _ = WatchAsync(task, exec);
        return new StartResponse { Pid = exec.Pid };
    }

    public DeleteResponse Delete(DeleteRequest r)
    {
        ShimTask task = Get(r.Id);
        if (r.ExecId.Length > 0)
        {
            ShimProcess exec = GetExec(task, r.ExecId);
            if (exec.Started && !exec.HasExited)
            {
                throw new VmSandboxException(ErrorCode.FailedPrecondition, $"exec {r.ExecId} of task {r.Id} is running: kill it first");
            }
            lock (task.Lock)
            {
                task.Execs.Remove(r.ExecId);
            }
            exec.Io.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
            (uint status, Timestamp? at) = exec.ExitInfo();
            return new DeleteResponse { Pid = exec.Pid, ExitStatus = status, ExitedAt = at ?? Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
        }
        if (task.Init.Started && !task.Init.HasExited && task.Container.Status is ContainerStatus.Running or ContainerStatus.Paused)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"task {r.Id} is running: kill it first");
        }
        // A created task that never started is killed by the delete, as runc does.
        task.Container.Delete(force: true);
        if (!task.Init.Exited.Wait(TimeSpan.FromSeconds(15)))
        {
            task.Init.SetExited(137, DateTimeOffset.UtcNow);
        }
        foreach (ShimProcess exec in task.Execs.Values)
        {
            exec.Io.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        }
        task.Init.Io.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        task.Rootfs?.Unmount();
        _tasks.TryRemove(r.Id, out _);
        (uint code, Timestamp? exitedAt) = task.Init.ExitInfo();
        var response = new DeleteResponse { Pid = task.Init.Pid, ExitStatus = code, ExitedAt = exitedAt };
        _events.Publish(EventPublisher.TopicDelete, new TaskDelete { ContainerId = r.Id, Id = r.Id, Pid = response.Pid, ExitStatus = code, ExitedAt = exitedAt });
        return response;
    }

    public StateResponse State(StateRequest r)
    {
        ShimTask task = Get(r.Id);
        ShimProcess p = r.ExecId.Length == 0 ? task.Init : GetExec(task, r.ExecId);
        Status status = p.BasicStatus();
        if (r.ExecId.Length == 0 && !p.HasExited)
        {
            status = task.Container.Status switch
            {
                ContainerStatus.Creating or ContainerStatus.Created => Status.Created,
                ContainerStatus.Running => Status.Running,
                ContainerStatus.Paused => Status.Paused,
                _ => Status.Stopped,
            };
        }
        (uint code, Timestamp? at) = p.ExitInfo();
        return new StateResponse
        {
            Id = r.Id,
            ExecId = r.ExecId,
            Bundle = task.Bundle,
            Pid = p.Pid,
            Status = status,
            Stdin = p.Io.Stdin,
            Stdout = p.Io.Stdout,
            Stderr = p.Io.Stderr,
            Terminal = p.Io.Terminal,
            ExitStatus = code,
            ExitedAt = at,
        };
    }

    public Empty Kill(KillRequest r)
    {
        ShimTask task = Get(r.Id);
        ShimProcess p = r.ExecId.Length == 0 ? task.Init : GetExec(task, r.ExecId);
        if (p.HasExited)
        {
            throw new VmSandboxException(ErrorCode.NotFound, "process already finished");
        }
        if (r.ExecId.Length == 0)
        {
            task.Container.Kill((int)r.Signal, r.All);
        }
        else if (!p.Started)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"exec {r.ExecId} of task {r.Id} has not started");
        }
        else
        {
            task.Container.SignalExec(p.AgentExecId, (int)r.Signal);
        }
        return new Empty();
    }

    public Empty Exec(ExecProcessRequest r)
    {
        ShimTask task = Get(r.Id);
        if (r.ExecId.Length == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec of task {r.Id}: the exec id cannot be empty");
        }
        if (r.Spec is null || r.Spec.Value.IsEmpty)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec {r.ExecId} of task {r.Id}: no process spec");
        }
        if (task.Init.HasExited)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"exec {r.ExecId}: task {r.Id} has stopped");
        }
        var exec = new ShimProcess(r.ExecId, new ProcessStdio(r.Stdin, r.Stdout, r.Stderr, r.Terminal, _log, r.Id, _paths.Namespace))
        {
            AgentExecId = ExecSession.NewExecId(),
            SpecJson = r.Spec.Value.ToByteArray(),
        };
        bool added;
        lock (task.Lock)
        {
            added = task.Execs.TryAdd(r.ExecId, exec);
        }
        if (!added)
        {
            exec.Io.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(15)); // a binary:// logger it started
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"id {r.ExecId}: already in use");
        }
        _events.Publish(EventPublisher.TopicExecAdded, new TaskExecAdded { ContainerId = r.Id, ExecId = r.ExecId });
        return new Empty();
    }

    public Empty ResizePty(ResizePtyRequest r)
    {
        ShimTask task = Get(r.Id);
        (r.ExecId.Length == 0 ? task.Init : GetExec(task, r.ExecId)).Io.Resize(r.Width, r.Height);
        return new Empty();
    }

    public Empty CloseIO(CloseIORequest r)
    {
        ShimTask task = Get(r.Id);
        if (r.Stdin)
        {
            (r.ExecId.Length == 0 ? task.Init : GetExec(task, r.ExecId)).Io.CloseStdin();
        }
        return new Empty();
    }

    public Empty Pause(string id)
    {
        Get(id).Container.Pause();
        _events.Publish(EventPublisher.TopicPaused, new TaskPaused { ContainerId = id });
        return new Empty();
    }

    public Empty Resume(string id)
    {
        Get(id).Container.Resume();
        _events.Publish(EventPublisher.TopicResumed, new TaskResumed { ContainerId = id });
        return new Empty();
    }

    public Empty Update(UpdateTaskRequest r)
    {
        ShimTask task = Get(r.Id);
        byte[] json = r.Resources?.Value.ToByteArray() ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"update of task {r.Id}: no resources");
        task.Container.Update(SpecLoader.ParseResources(json, "the update's resources"), json);
        return new Empty();
    }

    /// <summary>
    /// The task's processes as runc's shim lists them: the init's PID (its monitor) and each running
    /// exec's (its relay), an exec's with its ID in ProcessDetails. The VM's own processes (QEMU,
    /// virtiofsd) are the sandbox's, not the task's, and `vmsandbox ps` lists them.
    /// </summary>
    public PidsResponse Pids(PidsRequest r)
    {
        ShimTask task = Get(r.Id);
        var response = new PidsResponse();
        if (!task.Init.HasExited && task.Init.Pid != 0)
        {
            response.Processes.Add(new Protocol.ProcessInfo { Pid = task.Init.Pid });
        }
        lock (task.Lock)
        {
            foreach (ShimProcess exec in task.Execs.Values.Where(e => e.Started && !e.HasExited && e.Pid != 0))
            {
                var details = new ProcessDetails { ExecId = exec.ExecId };
                response.Processes.Add(new Protocol.ProcessInfo
                {
                    Pid = exec.Pid,
                    Info = new Any { TypeUrl = ProcessDetails.Descriptor.FullName, Value = details.ToByteString() },
                });
            }
        }
        return response;
    }

    public Protocol.StatsResponse Stats(StatsRequest r) =>
        new() { Stats = new Any { TypeUrl = CgroupsV2MetricsType, Value = ToMetrics(Get(r.Id).Container.Stats()).ToByteString() } };

    /// <summary>The guest's cgroup v2 figures in containerd's cgroup v2 Metrics message.</summary>
    public static Metrics ToMetrics(AgentStats s)
    {
        var m = new Metrics
        {
            Pids = new PidsStat { Current = s.Pids?.Current ?? 0, Limit = s.Pids?.Limit ?? 0 },
            Cpu = new CPUStat
            {
                UsageUsec = s.Cpu?.UsageUsec ?? 0,
                UserUsec = s.Cpu?.UserUsec ?? 0,
                SystemUsec = s.Cpu?.SystemUsec ?? 0,
                NrPeriods = s.Cpu?.NrPeriods ?? 0,
                NrThrottled = s.Cpu?.NrThrottled ?? 0,
                ThrottledUsec = s.Cpu?.ThrottledUsec ?? 0,
            },
            Memory = new MemoryStat
            {
                Usage = s.Memory?.UsageBytes ?? 0,
                UsageLimit = s.Memory?.LimitBytes ?? 0,
                SwapUsage = s.Memory?.SwapUsageBytes ?? 0,
                Anon = s.Memory?.AnonBytes ?? 0,
                File = s.Memory?.FileBytes ?? 0,
            },
            MemoryEvents = new MemoryEvents { OomKill = s.Memory?.OomKills ?? 0 },
            Io = new IOStat(),
        };
        foreach (var d in s.Io)
        {
            m.Io.Usage.Add(new IOEntry { Major = d.Major, Minor = d.Minor, Rbytes = d.ReadBytes, Wbytes = d.WriteBytes, Rios = d.ReadIos, Wios = d.WriteIos });
        }
        return m;
    }

    public ConnectResponse Connect(ConnectRequest r) => new()
    {
        ShimPid = (uint)Environment.ProcessId,
        TaskPid = _tasks.TryGetValue(r.Id, out ShimTask? t) ? t.Init.Pid : 0,
        Version = "vmsandbox",
    };

    public Empty Shutdown(ShutdownRequest r)
    {
        if (_tasks.IsEmpty && _creating.IsEmpty)
        {
            // At once: containerd tolerates the connection closing under its call, and returns to
            // its caller (ctr) without waiting for this process to end.
            _ = Task.Run(ShutdownRequested.Cancel);
        }
        return new Empty();
    }

    public async ValueTask<WaitResponse> WaitAsync(WaitRequest r, TtrpcCallContext context)
    {
        ShimTask task = Get(r.Id);
        ShimProcess p = r.ExecId.Length == 0 ? task.Init : GetExec(task, r.ExecId);
        (uint status, DateTimeOffset at) = await p.Exited.WaitAsync(context.CancellationToken);
        return new WaitResponse { ExitStatus = status, ExitedAt = Timestamp.FromDateTimeOffset(at) };
    }

    /// <summary>A shim going away: its containers go too (containerd would `shim delete` them anyway).</summary>
    public void DeleteAll()
    {
        foreach (ShimTask task in _tasks.Values)
        {
            TryDeleteContainer(task.Container);
            task.Rootfs?.Unmount();
        }
    }

    /// <summary>
    /// Records a process's exit once its helper ends and its output has drained (bounded, so a
    /// descendant holding the pipe cannot hold the status back), then tells containerd.
    /// </summary>
    private async Task WatchAsync(ShimTask task, ShimProcess p)
    {
        IHelperProcess helper = p.Helper!;
        await helper.WaitForExitAsync();
        uint status = (uint)helper.ExitCode;
        try
        {
            await p.Io.OutputDone.WaitAsync(s_outputGrace);
        }
        catch (TimeoutException)
        {
            _log.Debug($"task {task.Id} {p.ExecId}: output still open {s_outputGrace.TotalSeconds} s after the exit; reporting the exit");
        }
        DateTimeOffset at = DateTimeOffset.UtcNow;
        p.SetExited(status, at);
        _events.Publish(EventPublisher.TopicExit, new TaskExit
        {
            ContainerId = task.Id,
            Id = p.ExecId.Length == 0 ? task.Id : p.ExecId,
            Pid = p.Pid,
            ExitStatus = status,
            ExitedAt = Timestamp.FromDateTimeOffset(at),
        });
    }

    private void TryDeleteContainer(Container container)
    {
        try
        {
            container.Delete(force: true);
        }
        catch (Exception e)
        {
            _log.Warn($"delete {container.Id}: {VmSandboxException.FormatChain(e)}");
        }
    }

    private ShimTask Get(string id) =>
        _tasks.TryGetValue(id, out ShimTask? task) ? task : throw new VmSandboxException(ErrorCode.NotFound, $"task {id}: not found");

    private static ShimProcess GetExec(ShimTask task, string execId)
    {
        lock (task.Lock)
        {
            return task.Execs.TryGetValue(execId, out ShimProcess? p) ? p : throw new VmSandboxException(ErrorCode.NotFound, $"exec {execId} of task {task.Id}: not found");
        }
    }

    private static async ValueTask<T> Off<T>(Func<T> call) => await Task.Run(call);
}
