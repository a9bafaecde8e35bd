using System.Globalization;
using System.Runtime.InteropServices;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Oci;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// One VM of the warm pool (ADR 0018), the runtime binary under <c>__pool-vm DIR</c>: in a new
/// network namespace of its own and at a low CPU priority it boots a VM whose share is empty, the
/// same shape a container's monitor would boot (q35 with hot-plug slots, so the namespace can be
/// wired after the claim as after a create), and waits. A claim ("claim PID ID ROOT" on its
/// control socket, from the container's monitor) gives it to container ID: it moves itself,
/// QEMU and virtiofsd into the container's host cgroup, back to normal priority, and from then on
/// serves that container as a sandbox monitor serves its own (network sync, its files into the
/// share, DNS); the claimant creates the container through the agent. The VM ends when the
/// claimant ends (the container's exit reached its caller first), when the VM dies, or on
/// SIGTERM before a claim (`vmsandbox pool drain`). It is never used for a second container.
/// </summary>
public sealed class PoolVm
{
    public const string Verb = "__pool-vm";

    /// <summary>Nice value while unclaimed: a pooled VM's boot must not slow the containers that run.</summary>
    public const int IdleNice = 10;

    /// <summary>How long a claim may go without its claimant's process (a claimant that died before it was seen).</summary>
    private static readonly TimeSpan s_claimantPoll = TimeSpan.FromMilliseconds(50);

    private readonly RuntimeConfig _config;
    private readonly string _dir;
    private readonly string _name;
    private readonly TaskCompletionSource<PoolClaim> _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<string> _log;
    private MonitoredVm? _vm;

    private PoolVm(RuntimeConfig config, string dir)
    {
        _config = config;
        _dir = dir;
        _name = Path.GetFileName(dir);
        Action<string> poolLog = MonitorProcess.LogTo(Path.Combine(WarmPool.Root(config), "pool.log"));
        _log = line => poolLog($"{_name}: {line}");
    }

    /// <summary>The process's body: detaches, enters its own network namespace, runs until the VM ends.</summary>
    public static int Run(RuntimeConfig config, string dir)
    {
        _ = Interop.ProcessCalls.NewSession();
        // Nobody reads our output: the caller (create, under Docker's shim) must not wait for it.
        int devNull = Interop.ProcessCalls.OpenReadWrite("/dev/null");
        for (int fd = 0; fd <= 2; fd++)
        {
            Interop.ProcessCalls.Dup2(devNull, fd);
        }
        // Per thread: on the main thread, before the threads that later start QEMU exist.
        _ = Interop.Scheduling.TrySetNice(0, IdleNice);
        Interop.Namespace.Unshare(Interop.Namespace.CLONE_NEWNET);
        var pool = new PoolVm(config, Path.GetFullPath(dir));
        return Task.Run(pool.RunAsync).GetAwaiter().GetResult();
    }

    private async Task<int> RunAsync()
    {
        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            stop.Cancel();
        });
        // Before the try: its finally removes the directory, which must then be one of the pool's.
        if (!WarmPool.Root(_config).Equals(Path.GetDirectoryName(_dir), StringComparison.Ordinal) || !Directory.Exists(_dir))
        {
            _log($"{_dir} is not a directory of the warm pool {WarmPool.Root(_config)}");
            return ExitCodes.Failure;
        }
        try
        {
            ulong start = ProcessProbe.StartTime(Environment.ProcessId) ?? 0;
            File.WriteAllText(Path.Combine(_dir, WarmPool.ShapeFile), WarmPool.Shape(_config));
            File.WriteAllText(Path.Combine(_dir, WarmPool.PidFile), string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId} {start}"));
            // Private: the share's top is virtiofsd's bounded tmpfs, not this host directory,
            // which a claimed guest's root could otherwise fill.
            var share = new SharedDir(SandboxPlan.ShareTag, Directory.CreateDirectory(Path.Combine(_dir, "share")).FullName) { Private = true };
            _vm = await MonitoredVm.BootAsync(_config, "pool-" + _name, _dir, share, _config.MemoryMiB, _config.Vcpus, wiredLater: true, line => _log(line), stop.Token);
            await WarmUpAsync(stop.Token);
            // Last: the control socket's existence says "ready" (WarmPool.List).
            _vm.StartControl(_dir, (verb, ct) => verb.StartsWith(WarmPool.ClaimVerb + " ", StringComparison.Ordinal) ? Task.Run(() => Claim(verb), ct) : null);
            _log("ready");
            Task vmExit = _vm.Sandbox.Vm.WaitExitAsync(Timeout.InfiniteTimeSpan);
            Task stopped = Task.Delay(Timeout.Infinite, stop.Token);
            Task first = await Task.WhenAny(_claimed.Task, vmExit, stopped);
            if (first != _claimed.Task)
            {
                _log(first == vmExit ? "the vm ended while unclaimed" : "drained");
                return 0;
            }
            PoolClaim claim = await _claimed.Task;
            while (ProcessProbe.IsAlive(claim.Pid, claim.StartTime) && !_vm.Sandbox.Vm.HasExited)
            {
                await Task.Delay(s_claimantPoll);
            }
            long ending = Environment.TickCount64;
            StopOutcome outcome = await _vm.Sandbox.Vm.StopAsync(TimeSpan.Zero, CancellationToken.None);
            _log($"its container's monitor ended; vm stopped ({outcome}) in {Environment.TickCount64 - ending} ms");
            return 0;
        }
        catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            _log(VmSandboxException.FormatChain(e));
            return ExitCodes.Failure;
        }
        catch (OperationCanceledException)
        {
            _log("drained while booting");
            return 0;
        }
        finally
        {
            if (_vm is not null)
            {
                await _vm.DisposeAsync();
            }
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log($"remove {_dir}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Has the agent create and remove a throw-away container before the VM is offered: under
    /// TCG the guest's first container set-up is mostly code being translated for the first
    /// time (ADR 0016), which the claimant's container would otherwise wait for. Its rootfs is
    /// a directory of the share with one empty file, its process, which never starts; nothing of it stays in the
    /// guest (its namespaces and cgroup go with it) or on the host.
    /// </summary>
    private async Task WarmUpAsync(CancellationToken ct)
    {
        const string id = "pool-warm-up";
        // The share's top is virtiofsd's own bounded tmpfs (VirtiofsDaemon): the rootfs goes in
        // as a claimant's does, attached in virtiofsd's namespace under a member prefix.
        string hostDir = Path.Combine(_dir, id);
        string rootfs = Directory.CreateDirectory(Path.Combine(hostDir, "rootfs")).FullName;
        string prefix = SandboxPlan.MemberPrefix(id);
        int virtiofsd = _vm!.Sandbox.ShareDaemonPid();
        // create looks the executable up; an empty file passes, and it is never run.
        File.WriteAllBytes(Path.Combine(rootfs, id), []);
        File.SetUnixFileMode(Path.Combine(rootfs, id), UnixFileMode.UserRead | UnixFileMode.UserExecute);
        long began = Environment.TickCount64;
        var call = new Ttrpc.TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(60) };
        Oci.Spec.RuntimeSpec spec = Oci.DefaultSpec.Create() with
        {
            Root = new Oci.Spec.Root { Path = "rootfs", Readonly = false },
            Process = Oci.DefaultSpec.Create().Process! with { Terminal = false, Args = ["/" + id] },
        };
        Agent.Protocol.AgentClient agent = _vm!.Sandbox.Agent;
        bool attached = false;
        try
        {
            MemberShares.Add(virtiofsd, [new ShareBind(rootfs, prefix + "rootfs")], prefix);
            attached = true;
            await agent.CreateContainerAsync(new Agent.Protocol.CreateContainerRequest
            {
                ContainerId = id,
                OciSpec = Google.Protobuf.ByteString.CopyFromUtf8(SpecLoader.Serialize(spec)),
                Rootfs = new Agent.Protocol.RootfsMount { ShareTag = SandboxPlan.ShareTag, Path = prefix + "rootfs", FsType = "virtiofs" },
                Bundle = "/" + id,
            }, call, ct);
            await agent.RemoveContainerAsync(new Agent.Protocol.RemoveContainerRequest { ContainerId = id }, call, ct);
            _log($"warmed up in {Environment.TickCount64 - began} ms");
        }
        catch (Exception e) when (e is VmSandboxException or Ttrpc.TtrpcException or IOException)
        {
            // A cold VM still serves: its first container is only slower.
            _log($"warm-up: {VmSandboxException.FormatChain(e)}");
        }
        finally
        {
            try
            {
                if (attached)
                {
                    MemberShares.Remove(virtiofsd, prefix);
                }
                Directory.Delete(hostDir, recursive: true);
            }
            catch (Exception e) when (e is VmSandboxException or IOException)
            {
                _log($"warm-up: clean-up: {VmSandboxException.FormatChain(e)}");
            }
        }
    }

    /// <summary>"claim PID ID ROOT": the VM becomes container ID's (the first claim wins; it is answered after the move).</summary>
    private void Claim(string verb)
    {
        (int pid, string id, string root) = PoolClaimRequest.Parse(verb);
        if (_claimed.Task.IsCompleted)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"pooled vm {_name} is taken");
        }
        ulong start = ProcessProbe.StartTime(pid) ?? throw new VmSandboxException(ErrorCode.NotFound, $"claimant {pid} is gone");
        var store = new ContainerStore(root, _config.StateRoot);
        ContainerRecord record = store.Load(id);
        LoadedSpec loaded = store.LoadSpec(record);
        if (WarmPool.Unfit(loaded.Spec, _config) is string why)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"container {id} cannot take a pooled vm: {why}");
        }
        // From here the VM is this container's or nobody's: a half-done claim ends it.
        File.WriteAllText(Path.Combine(_dir, WarmPool.ClaimedFile), id);
        try
        {
            Action<string> containerLog = MonitorProcess.LogTo(Path.Combine(store.DirOf(id), "monitor.log"));
            Action<string> poolLog = _log;
            _log = line =>
            {
                poolLog(line);
                containerLog($"pooled vm {_name}: {line}");
            };
            // The sandbox's processes now count as the container's, as if born in its cgroup.
            IReadOnlyList<string> cgroups = record.HostCgroups ?? [];
            foreach (int p in ProcessProbe.SelfAndDescendants(Environment.ProcessId))
            {
                if (cgroups.Count > 0)
                {
                    HostCgroup.Join(cgroups, p);
                }
                foreach (string task in Directory.EnumerateDirectories($"/proc/{p}/task"))
                {
                    if (int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out int tid))
                    {
                        _ = Interop.Scheduling.TrySetNice(tid, 0);
                    }
                }
            }
            HostCgroup.SetCpuset(cgroups, loaded.Spec.Linux?.Resources?.Cpu?.Cpus, loaded.Spec.Linux?.Resources?.Cpu?.Mems);
            _vm!.Container = loaded;
            _vm.LoadMember = member => member == id ? loaded
                : throw new VmSandboxException(ErrorCode.InvalidArgument, $"pooled vm {_name} serves container {id}, not {member}");
            _claimed.TrySetResult(new PoolClaim(_dir, pid, start));
        }
        catch
        {
            _ = _vm!.Sandbox.Vm.StopAsync(TimeSpan.Zero, CancellationToken.None);
            throw;
        }
        _log($"claimed by container {id} (monitor {pid})");
    }
}
