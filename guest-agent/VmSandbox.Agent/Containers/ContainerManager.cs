using VmSandbox.Agent.Cgroups;
using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// The containers of this guest and their life cycle: create (share mounts, cgroup, stdio,
/// spawn of the container init, which sets up and reports ready), start, exec, signals, waits,
/// pause/resume/update, removal. The agent API (<see cref="Api.AgentService"/>) calls it.
/// Collaborators: <see cref="ProcessSpawner"/>, <see cref="ShareMounter"/>, <see cref="Cgroup"/>,
/// <see cref="StdioRelay"/>, the init protocol (<see cref="InitChannel"/>).
/// </summary>
public sealed partial class ContainerManager
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    private readonly object _lock = new();
    private readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _creating = new(StringComparer.Ordinal);
    private readonly ProcessSpawner _spawner;
    private readonly ShareMounter _shares;

    public ContainerManager(ProcessSpawner spawner, ShareMounter shares)
    {
        _spawner = spawner;
        _shares = shares;
    }

    private PrespawnedInit? _prespawned;
    private bool _prespawnSettled;
    private Action<string>? _prespawnLog;

    /// <summary>
    /// Spawns a <see cref="PrespawnedInit"/> for the next container (a few ms at normal priority,
    /// so that it exists before that container is asked for; the init's own start-up then runs at
    /// idle priority). The agent starts one at boot, before its readiness line, and one more
    /// whenever its last container is removed while the VM lives on (a pooled VM's throw-away
    /// warm-up container, ADR 0018).
    /// </summary>
    public void Prespawn(Action<string> log)
    {
        lock (_lock)
        {
            _prespawnLog = log;
            _prespawnSettled = false;
        }
        PrespawnedInit? init;
        try
        {
            init = PrespawnedInit.Start(_spawner);
        }
        catch (Exception e)
        {
            // PID 1 must not fall over for a head start.
            log($"pre-spawned init: {e.Message}");
            init = null;
        }
        bool wanted;
        lock (_lock)
        {
            wanted = !_prespawnSettled;
            if (wanted)
            {
                _prespawned = init;
            }
        }
        if (!wanted)
        {
            init?.Dispose(); // the next container was created without it
        }
    }

    /// <summary>After a removal: a VM left without containers gets a pre-spawned init again.</summary>
    private void PrespawnIfEmpty()
    {
        Action<string>? log;
        lock (_lock)
        {
            log = _containers.Count == 0 && _creating.Count == 0 && _prespawned is null && _prespawnSettled ? _prespawnLog : null;
        }
        if (log is not null)
        {
            Prespawn(log);
        }
    }

    /// <summary>
    /// The next container init's launch settles the pre-spawned init: taken when
    /// <paramref name="eligible"/> and still alive, else ended. Later launches spawn their own.
    /// </summary>
    private PrespawnedInit? TakePrespawned(bool eligible, Action<int> onExit)
    {
        PrespawnedInit? init;
        lock (_lock)
        {
            init = _prespawned;
            _prespawned = null;
            _prespawnSettled = true;
        }
        if (init is not null && eligible && init.TryClaim(onExit))
        {
            return init;
        }
        init?.Dispose();
        return null;
    }

    public CreateContainerResponse Create(CreateContainerRequest request)
    {
        string id = request.ContainerId;
        ContainerIdValidator.Validate(id);
        lock (_lock)
        {
            if (_containers.ContainsKey(id) || !_creating.Add(id))
            {
                throw new VmSandboxException(ErrorCode.AlreadyExists, $"create container {id}: already exists");
            }
        }
        Container? container = null;
        try
        {
            // Parsed and validated here; the container init gets the same bytes and parses them
            // with the same code (InitMessage.SpecJson).
            RuntimeSpec spec = SpecLoader.ParseAndValidate(request.OciSpec.Span, new List<string>(), "config.json");
            if (spec.Process is null)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, "config.json: no process");
            }
            SeccompProgram? seccomp = CompileSeccomp(spec.Linux?.Seccomp);
            container = new Container(id, spec, Cgroup.Create(id)) { Seccomp = seccomp };
            container.Cgroup.Apply(spec.Linux?.Resources);
            container.Cgroup.ApplyDevices(spec.Linux?.Resources?.Devices);
            RootfsMount rootfs = request.Rootfs ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"create container {id}: no rootfs");
            string rootPath = _shares.Acquire(rootfs.ShareTag, rootfs.Path);
            container.Shares.Add(rootfs.ShareTag);
            var binds = new List<InitMessage.BindSource>();
            foreach (SharedMount m in request.SharedMounts)
            {
                binds.Add(new InitMessage.BindSource(m.Destination, _shares.Acquire(m.ShareTag, m.Path), [.. m.Submounts]));
                container.Shares.Add(m.ShareTag);
            }
            (int podPid, int? sharedPidOf) = PodNamespaces(request.SandboxId, spec);
            if (spec.Linux?.Namespaces?.Any(n => n.Type == "user") == true)
            {
                // The guest's network namespace is the container's, and a user namespace does not
                // own it: its net.* sysctls are written here, the rest by the init (ADR 0019).
                foreach (var (key, value) in spec.Linux.Sysctl ?? new Dictionary<string, string>())
                {
                    if (ContainerInit.InitProcess.IsNetworkSysctl(key))
                    {
                        ContainerInit.InitProcess.WriteSysctl(key, value);
                    }
                }
            }
            var config = new InitMessage
            {
                Type = InitMessage.ConfigType,
                Mode = InitMessage.InitMode,
                PodPid = podPid,
                ContainerId = id,
                SpecJson = request.OciSpec.ToByteArray(),
                SeccompFilter = seccomp?.FilterBytes(),
                SeccompFlags = (uint)(seccomp?.Flags ?? default),
                Rootfs = rootPath,
                Bundle = request.Bundle,
                Binds = binds,
                Terminal = request.Terminal,
            };
            container.Init = Launch(container, "", config, spec.Process, request.Stdio, request.Terminal, joinPidOf: sharedPidOf);
            lock (_lock)
            {
                _containers[id] = container;
                _creating.Remove(id);
            }
            return new CreateContainerResponse { Pid = (uint)container.Init.Pid };
        }
        catch (Exception e)
        {
            if (container is not null)
            {
                Destroy(container, TimeSpan.Zero);
            }
            lock (_lock)
            {
                _creating.Remove(id);
            }
            throw e is VmSandboxException ? e : new VmSandboxException(ErrorCode.Internal, $"create container {id}", e);
        }
    }

    /// <summary>
    /// linux.seccomp compiled once per container (its inits and execs install the program); a
    /// profile the compiler refuses fails the create as the init's failure did.
    /// </summary>
    private static SeccompProgram? CompileSeccomp(LinuxSeccomp? profile)
    {
        try
        {
            return profile is null ? null : SeccompProgram.Compile(profile);
        }
        catch (VmSandboxException e)
        {
            throw StartFailure(e.Code, e.Message);
        }
    }

    /// <summary>
    /// A pod member's namespaces: its sandbox container's init joins ipc and uts; the pid
    /// namespace too when the spec names one (a pod with shareProcessNamespace).
    /// </summary>
    private (int PodPid, int? SharedPidOf) PodNamespaces(string sandboxId, RuntimeSpec spec)
    {
        if (sandboxId.Length == 0)
        {
            return (0, null);
        }
        Container sandbox;
        lock (_lock)
        {
            sandbox = _containers.TryGetValue(sandboxId, out Container? c) ? c
                : throw new VmSandboxException(ErrorCode.NotFound, $"pod sandbox container {sandboxId}: not in this VM");
        }
        int pid = sandbox.Init?.Pid ?? 0;
        if (pid <= 0 || sandbox.Init!.HasExited)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"pod sandbox container {sandboxId}: not running");
        }
        bool sharesPid = spec.Linux?.Namespaces?.Any(n => n.Type == "pid" && !string.IsNullOrEmpty(n.Path)) == true;
        return (pid, sharesPid ? pid : null);
    }

    public StartContainerResponse Start(StartContainerRequest request)
    {
        Container container = Get(request.ContainerId);
        ContainerProcess init = container.Init!;
        lock (container)
        {
            if (container.Started)
            {
                throw new VmSandboxException(ErrorCode.FailedPrecondition, $"start container {container.Id}: already started");
            }
            container.Started = true;
        }
        if (init.HasExited)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"start container {container.Id}: init process exited");
        }
        Release(init, $"start container {container.Id}");
        return new StartContainerResponse { Pid = (uint)init.Pid };
    }

    public ExecProcessResponse Exec(ExecProcessRequest request)
    {
        Container container = Get(request.ContainerId);
        string execId = request.ExecId;
        if (string.IsNullOrEmpty(execId))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec in container {container.Id}: empty exec id");
        }
        ContainerProcess init = container.Init!;
        // runc compat: a created container's init already holds the namespaces, so exec works
        // before start too (runc's create.bats "runc create exec").
        if (init.HasExited)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"exec {execId} in container {container.Id}: container is not running");
        }
        lock (container)
        {
            if (container.Execs.ContainsKey(execId))
            {
                throw new VmSandboxException(ErrorCode.AlreadyExists, $"exec {execId} in container {container.Id}: already exists");
            }
        }
        // Parsed and validated here, so that a bad one is the caller's error; the init gets the
        // same bytes (InitMessage.ProcessJson).
        ProcessSpec process = ProcessLoader.Parse(request.Process.Span, new List<string>(), "process");
        var config = new InitMessage
        {
            Type = InitMessage.ConfigType,
            Mode = InitMessage.ExecMode,
            ContainerId = container.Id,
            ProcessJson = request.Process.ToByteArray(),
            SeccompFilter = container.Seccomp?.FilterBytes(),
            SeccompFlags = (uint)(container.Seccomp?.Flags ?? default),
            Terminal = request.Terminal || process.Terminal,
            JoinPid = init.Pid,
        };
        ContainerProcess exec = Launch(container, execId, config, process, request.Stdio, config.Terminal, joinPidOf: init.Pid);
        lock (container)
        {
            container.Execs[execId] = exec;
        }
        Release(exec, $"exec {execId} in container {container.Id}");
        return new ExecProcessResponse { Pid = (uint)exec.Pid };
    }

    /// <summary>Spawns a container init, puts it in the cgroup, sends its config and waits for "ready" (or its error).</summary>
    private ContainerProcess Launch(Container container, string execId, InitMessage config, ProcessSpec processSpec, Stdio? stdio, bool terminal, int? joinPidOf)
    {
        StdioRelay relay = StdioRelay.Open(stdio, terminal);
        var process = new ContainerProcess(execId, relay);
        NsExec? nsexec;
        try
        {
            nsexec = UserNamespaceOf(container, config, joinPidOf);
        }
        catch
        {
            relay.Dispose();
            throw;
        }
        // A container's init may have been started ahead (it then gets its stdio with its config).
        PrespawnedInit? prespawned = config.Mode == InitMessage.InitMode
            ? TakePrespawned(eligible: nsexec is null && joinPidOf is null, process.OnExit)
            : null;
        InitChannel channel;
        SafeFd? initEnd = null;
        if (prespawned is not null)
        {
            channel = prespawned.Channel;
        }
        else
        {
            (SafeFd agentEnd, initEnd) = UnixSocket.CreatePair();
            channel = new InitChannel(agentEnd);
        }
        int spawned = 0;
        try
        {
            using (nsexec)
            {
                if (prespawned is not null)
                {
                    spawned = process.Pid = prespawned.Pid;
                    // Its start-up may still be under way, at idle priority: the rest at normal (it resets itself too).
                    try
                    {
                        Scheduling.SetThreadNormal(spawned);
                    }
                    catch (VmSandboxException)
                    {
                        // gone: its channel says so below
                    }
                }
                else
                {
                    using (initEnd)
                    {
                        spawned = process.Pid = _spawner.Spawn([.. relay.ChildFds, initEnd!], joinPidOf, process.OnExit, nsexec);
                    }
                    relay.CloseChildFds();
                }
                if (nsexec is not null)
                {
                    process.Pid = nsexec.Complete(spawned, container.Spec.Linux?.UidMappings, container.Spec.Linux?.GidMappings);
                    ProcessLimits.Apply(process.Pid, processSpec);
                }
            }
            container.Cgroup.AddProcess(process.Pid);
            // A pre-spawned init gets its stdio with its config (a fresh one got them at its spawn).
            channel.Send(config, prespawned is null ? [] : [.. relay.ChildFds.Select(fd => fd.Fd)]);
            relay.CloseChildFds();
            var fds = new List<SafeFd>();
            InitMessage? reply = channel.Receive(fds);
            if (reply?.Type == InitMessage.ErrorType)
            {
                throw FromInit(reply);
            }
            if (reply?.Type != InitMessage.ReadyType)
            {
                throw new VmSandboxException(ErrorCode.Internal, $"container {container.Id}: init exited before it was ready");
            }
            if (terminal)
            {
                if (fds.Count == 0)
                {
                    throw new VmSandboxException(ErrorCode.Protocol, $"container {container.Id}: init sent no terminal");
                }
                relay.AttachMaster(fds[0]);
            }
            process.Channel = channel;
            return process;
        }
        catch
        {
            if (process.Pid > 0)
            {
                _ = ProcessCalls.Kill(process.Pid, SIGKILL);
            }
            if (spawned > 0 && spawned != process.Pid)
            {
                _ = ProcessCalls.Kill(spawned, SIGKILL);
            }
            channel.Dispose();
            relay.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The user namespace step of a container with a "user" namespace (ADR 0019), or null: a
    /// new one with the spec's maps for an init, its pod sandbox's for a pod member that names
    /// one by path, the container's init's for an exec. The init makes its pid namespace after
    /// the user namespace (so that it owns it) unless it joins its pod's.
    /// </summary>
    private NsExec? UserNamespaceOf(Container container, InitMessage config, int? joinPidOf)
    {
        LinuxNamespace? user = container.Spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "user");
        if (user is null)
        {
            return null;
        }
        if (config.Mode == InitMessage.ExecMode)
        {
            return NsExec.ForJoin(config.JoinPid, newPidNamespace: false);
        }
        if (!string.IsNullOrEmpty(user.Path))
        {
            if (config.PodPid <= 0)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.namespaces: user namespace path {user.Path}: only a pod member may join one (its pod's)");
            }
            return NsExec.ForJoin(config.PodPid, newPidNamespace: joinPidOf is null);
        }
        return NsExec.ForNewNamespace(newPidNamespace: joinPidOf is null);
    }

    /// <summary>Sends "start" and waits until the init exec'd (the channel closes) or reports why it could not.</summary>
    private static void Release(ContainerProcess process, string what)
    {
        InitChannel channel = process.Channel ?? throw new VmSandboxException(ErrorCode.FailedPrecondition, $"{what}: already started");
        process.Channel = null;
        using (channel)
        {
            channel.Send(new InitMessage { Type = InitMessage.StartType });
            InitMessage? reply = channel.Receive();
            if (reply?.Type == InitMessage.ErrorType)
            {
                throw FromInit(reply);
            }
        }
    }

    private static VmSandboxException FromInit(InitMessage error)
    {
        WireError e = error.Error ?? new WireError { Message = "unknown error" };
        return StartFailure(e.ErrorCode, e.Message);
    }

    /// <summary>runc compat: Docker shows "…: exec: \"foo\": executable file not found in $PATH".</summary>
    private static VmSandboxException StartFailure(ErrorCode code, string message) => new(code, $"start container process: {message}");

    private Container Get(string id)
    {
        lock (_lock)
        {
            return _containers.TryGetValue(id, out Container? c)
                ? c
                : throw new VmSandboxException(ErrorCode.NotFound, $"container {id}: not found");
        }
    }

    private static ContainerProcess GetProcess(Container container, string execId)
    {
        if (string.IsNullOrEmpty(execId))
        {
            return container.Init!;
        }
        lock (container)
        {
            return container.Execs.TryGetValue(execId, out ContainerProcess? p)
                ? p
                : throw new VmSandboxException(ErrorCode.NotFound, $"exec {execId} in container {container.Id}: not found");
        }
    }
}
