using System.Net.Sockets;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Oci;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Network;
using VmSandbox.Runtime.Stdio;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The sandbox monitor: one detached host process per container, started by `create`. It owns
/// the VM (QEMU, virtiofsd, the vsock device), asks the agent to create the container, tells
/// `create` the outcome through a one-shot report socket, relays the container's stdio from the
/// descriptors it inherited (or a host pty), forwards the signals it receives to the container,
/// and exits with the container's exit status (128+signal when killed), so that whoever reaps it
/// (containerd-shim-runc-v2 as subreaper, or `run`) sees the container's status.
/// Collaborators: <see cref="SandboxVmFactory"/>, <see cref="SandboxPlan"/>, <see cref="ProcessIo"/>,
/// <see cref="MonitorLaunch"/> (what `create` validated; the monitor records only the exit status).
/// </summary>
public sealed class SandboxMonitor
{
    /// <summary>Exit status when the VM died under the container (no status from the guest).</summary>
    public const int VmLostExitCode = 255;

    /// <summary>Empty PCIe root ports for NICs of interfaces that appear after boot (Docker wires them in a prestart hook).</summary>
    public const int NetworkHotplugSlots = 2;

    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(60) };

    private readonly MonitorLaunch _launch;
    private readonly string _id;
    private readonly RuntimeConfig _config;
    private readonly string _reportSocket;
    private readonly string? _ttyPath;
    private readonly Action<string> _log;

    public SandboxMonitor(MonitorLaunch launch, RuntimeConfig config, string reportSocket, string? ttyPath, Action<string> log)
    {
        _launch = launch;
        _id = launch.Id;
        _config = config;
        _reportSocket = reportSocket;
        _ttyPath = ttyPath;
        _log = log;
    }

    public async Task<int> RunAsync(CancellationToken ct)
    {
        SandboxVm? sandbox = null;
        NetworkMirror? network = null;
        Dictionary<string, (DnsForwarder Stream, DnsForwarder Datagrams, uint Port)> dns = [];
        using var watch = new CancellationTokenSource();
        MonitorControl? control = null;
        ProcessIo? io = null;
        Interop.SafeFd? tty = null;
        bool reported = false;
        try
        {
            // Before QEMU and virtiofsd exist, so that they are born in it.
            HostCgroup.Join(_launch.HostCgroups, Environment.ProcessId);
            LoadedSpec loaded = _launch.Spec;
            HostCgroup.SetCpuset(_launch.HostCgroups, loaded.Spec.Linux?.Resources?.Cpu?.Cpus, loaded.Spec.Linux?.Resources?.Cpu?.Mems);
            string shareDir = Directory.CreateDirectory(Path.Combine(_launch.RunDir, "share")).FullName;
            SandboxPlan plan = SandboxPlan.Create(loaded, _config, shareDir, p => File.Exists(p) || Directory.Exists(p), File.ReadLines(HostMountInfo));
            var factory = new SandboxVmFactory(_config, AccelDetector.ForHost(), new QemuHypervisor(), _log);
            // The monitor lives in the container's network namespace (MonitorProcess entered it).
            network = NetworkMirror.Open(_log);
            // Hooks that run after create (Docker's libnetwork-setkey is a prestart hook) may wire the namespace.
            bool wiredLater = loaded.Spec.Hooks is { } hooks && (hooks.Prestart?.Count > 0 || hooks.CreateRuntime?.Count > 0);
            MachineType machine = MachineSetting.ForNetwork(_config, network.WiredAtOpen, wiredLater);
            if (machine == MachineType.Microvm)
            {
                network.WithoutHotplug(spares: wiredLater ? NetworkMirror.SpareNics : 0);
            }
            VmSpec spec = factory.CreateSpec(_id, _launch.RunDir) with
            {
                Machine = machine,
                MemoryMiB = plan.MemoryMiB,
                Vcpus = plan.Vcpus,
                Devices = network.BootDevices,
                HotplugSlots = machine == MachineType.Q35 ? NetworkHotplugSlots : 0,
            };
            long phase = Environment.TickCount64;
            sandbox = await factory.BootAsync(spec, [plan.Share], ct);
            _ = EndWhenShareLostAsync(sandbox);
            BootTimings t = sandbox.Timings;
            _log($"container {_id}: vm ready in {Environment.TickCount64 - phase} ms (qemu {t.QemuStartMs:F0}, firmware {t.FirmwareMs:F0}, kernel {t.KernelMs:F0}, agent {t.AgentInitMs:F0} ms)");
            phase = Environment.TickCount64;
            SandboxVm booted = sandbox;
            NetworkMirror mirror = network;
            Dictionary<string, (DnsForwarder Stream, DnsForwarder Datagrams, uint Port)> forwarders = dns;
            Func<IReadOnlyList<DnsRelay>> relays = () => DnsRelays(loaded, booted.VsockUdsPath!, forwarders);
            await mirror.SyncAsync(booted.Vm, booted.Agent, relays(), ct);
            int watching = 0;
            async Task SyncAndWatch(CancellationToken token)
            {
                await mirror.SyncAsync(booted.Vm, booted.Agent, relays(), token);
                // Once started, interfaces Docker adds later (network connect) are mirrored too.
                if (Interlocked.Exchange(ref watching, 1) == 0)
                {
                    _ = mirror.WatchAsync(booted.Vm, booted.Agent, relays, NetworkWatchInterval, watch.Token);
                }
            }
            control = MonitorControl.Start(_launch.RunDir, (verb, token) => verb.Split(' ', 2) switch
            {
                [MonitorControl.SyncNetwork] => SyncAndWatch(token),
                [MonitorControl.AddMember, string member] => Task.Run(() => AddMember(booted, shareDir, member), token),
                [MonitorControl.RemoveMember, string member] => Task.Run(() => MemberShares.Remove(booted.ShareDaemonPid(), SandboxPlan.MemberPrefix(member)), token),
                _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown control verb \"{verb}\""),
            }, _log);

            bool terminal = loaded.Spec.Process?.Terminal ?? false;
            if (_ttyPath is not null)
            {
                tty = Terminal.ConsolePty.OpenControllingPeer(_ttyPath, _log);
            }
            io = ProcessIo.ForHelper(sandbox.VsockUdsPath!, tty, terminal, releaseAtEof: true);
            var request = new CreateContainerRequest
            {
                ContainerId = _id,
                OciSpec = ByteString.CopyFrom(loaded.Json.Span),
                Rootfs = plan.Rootfs,
                Bundle = loaded.BundlePath,
                Stdio = io.Describe(),
                Terminal = terminal,
            };
            request.SharedMounts.AddRange(plan.SharedMounts);
            CreateContainerResponse created = await sandbox.Agent.CreateContainerAsync(request, s_call, ct);
            AgentClient agent = sandbox.Agent;
            await io.StartAsync(bytes => agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = _id, StdinBytes = bytes }, s_call, CancellationToken.None), ct);

            await ReportAsync(new MonitorReport { GuestPid = (int)created.Pid });
            reported = true;
            _log($"container {_id}: created, guest pid {created.Pid}, {Environment.TickCount64 - phase} ms after the vm was ready");

            using var signals = new GuestSignalRelay(agent, _id, "", tty, _log);
            await signals.ResizeAsync();
            int code;
            try
            {
                WaitProcessResponse exit = await ProcessWaiter.UntilExitAsync(agent, _launch.RunDir, _id, "", () => sandbox.Vm.HasExited, _log, ct);
                code = exit.ExitCode;
                if (exit.Signal == 9)
                {
                    await OomForwarder.ForwardIfOomKilledAsync(agent, _id, _log);
                }
            }
            catch (Exception e) when (e is VmSandboxException or IOException or SocketException or TtrpcException { Status: StatusCode.Unavailable })
            {
                _log($"container {_id}: lost the guest: {VmSandboxException.FormatChain(e)}");
                code = VmLostExitCode;
            }
            _log($"container {_id}: exited with status {code}");
            await io.DrainAsync();
            _launch.RecordExit(code);
            // Whoever reaps this process (Docker's shim) learns the exit only when it ends, so the
            // VM goes at once: the agent synced the guest's file systems before it reported the
            // exit, and nothing else in the guest outlives the container (ADR 0004).
            long exited = Environment.TickCount64;
            StopOutcome outcome = await sandbox.Vm.StopAsync(TimeSpan.Zero, CancellationToken.None);
            _log($"container {_id}: vm stopped ({outcome}) in {Environment.TickCount64 - exited} ms");
            return code;
        }
        catch (Exception e)
        {
            _log($"container {_id}: {VmSandboxException.FormatChain(e)}");
            if (!reported)
            {
                await ReportAsync(MonitorReport.Failed(e));
            }
            return ExitCodes.Failure;
        }
        finally
        {
            await watch.CancelAsync();
            if (control is not null)
            {
                await control.DisposeAsync();
            }
            io?.Dispose();
            if (sandbox is not null)
            {
                await sandbox.DisposeAsync();
            }
            network?.Dispose(); // after QEMU: its taps are gone, the veths' qdiscs go here
            foreach ((DnsForwarder stream, DnsForwarder datagrams, _) in dns.Values)
            {
                stream.Dispose();
                datagrams.Dispose();
            }
            tty?.Dispose();
        }
    }

    /// <summary>
    /// A killed virtiofsd would leave the container hanging on its files, so the VM goes: the
    /// waiter then sees the guest lost and the container exits with <see cref="VmLostExitCode"/>.
    /// </summary>
    private async Task EndWhenShareLostAsync(SandboxVm sandbox)
    {
        string why = await sandbox.ShareDaemonLostAsync();
        if (sandbox.Vm.HasExited)
        {
            return;
        }
        _log($"container {_id}: {why}; stopping the vm");
        await sandbox.Vm.StopAsync(TimeSpan.Zero, CancellationToken.None);
    }

    private void AddMember(SandboxVm sandbox, string shareDir, string member)
    {
        Oci.ContainerIdValidator.Validate(member);
        LoadedSpec loaded = (_launch.LoadMember ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"container {_id} takes no pod members"))(member);
        string prefix = SandboxPlan.MemberPrefix(member);
        SandboxPlan plan = SandboxPlan.Create(loaded, _config, shareDir, p => File.Exists(p) || Directory.Exists(p), File.ReadLines(HostMountInfo), prefix);
        MemberShares.Add(sandbox.ShareDaemonPid(), plan.Share.Binds, prefix);
        _log($"container {_id}: pod member {member}'s files are in the share under {prefix}");
    }

    /// <summary>
    /// The host's mounts as this thread sees them: /proc/self is the thread group leader, whose
    /// main thread waits in the container's <see cref="RootfsView"/>, a mount namespace of its own.
    /// </summary>
    private const string HostMountInfo = "/proc/thread-self/mountinfo";

    /// <summary>How often a started container's namespace is checked for interfaces added later.</summary>
    public static readonly TimeSpan NetworkWatchInterval = TimeSpan.FromSeconds(1);

    /// <summary>First host vsock port of the DNS forwarders, one per loopback name server.</summary>
    public const uint DnsRelayPortBase = 5300;

    /// <summary>
    /// Loopback name servers of the container's resolv.conf (Docker's embedded DNS, 127.0.0.11, is
    /// on the host side of the namespace) get a forwarder here and a relay in the guest. Read at
    /// every network sync: Docker rewrites the file to 127.0.0.11 in its prestart hook, after boot.
    /// </summary>
    private List<DnsRelay> DnsRelays(LoadedSpec loaded, string udsPath, Dictionary<string, (DnsForwarder Stream, DnsForwarder Datagrams, uint Port)> forwarders)
    {
        // Only a resolv.conf the caller mounts (Docker, podman and CRI always do): the image's own
        // is untrusted, and reading it on the host would follow its symlinks here.
        string? path = loaded.Spec.Mounts?.LastOrDefault(m => m.Destination is "/etc/resolv.conf" or "/etc/resolv.conf/")?.Source;
        if (path is null)
        {
            return [];
        }
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > 64 * 1024)
            {
                return [];
            }
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log($"dns: read {path}: {e.Message}");
            return [];
        }
        var relays = new List<DnsRelay>();
        foreach (System.Net.IPAddress server in ResolvConf.LoopbackNameservers(text))
        {
            if (!forwarders.TryGetValue(server.ToString(), out (DnsForwarder Stream, DnsForwarder Datagrams, uint Port) entry))
            {
                // Two ports per server: TCP clients spliced, UDP queries asked over UDP.
                uint port = DnsRelayPortBase + (2 * (uint)forwarders.Count);
                var upstream = new System.Net.IPEndPoint(server, 53);
                DnsForwarder stream = DnsForwarder.Start(udsPath, port, upstream, line => _log($"dns {server}: {line}"));
                entry = (stream, DnsForwarder.Start(udsPath, port + 1, upstream, line => _log($"dns {server}: {line}"), datagrams: true), port);
                forwarders[server.ToString()] = entry;
                _log($"dns: relaying {server} through vsock ports {port} (tcp) and {port + 1} (udp)");
            }
            relays.Add(new DnsRelay { ListenAddress = server.ToString(), HostPort = entry.Port, HostDatagramPort = entry.Port + 1 });
        }
        return relays;
    }

    /// <summary>Tells `create` that the monitor failed before it could boot anything.</summary>
    public static async Task<int> ReportFailureAsync(string reportSocket, Exception e, Action<string> log)
    {
        await MonitorReport.SendAsync(reportSocket, MonitorReport.Failed(e), log);
        return ExitCodes.Failure;
    }

    private Task ReportAsync(MonitorReport report) => MonitorReport.SendAsync(_reportSocket, report, _log);
}
