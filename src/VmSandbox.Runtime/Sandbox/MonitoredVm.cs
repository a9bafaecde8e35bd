using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Oci;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Network;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// What a monitor process holds of a booted VM, whether it boots it for its own container
/// (<see cref="SandboxMonitor"/>) or ahead of time for the warm pool (<see cref="PoolVm"/>): the
/// VM, the mirror of the network namespace the process lives in, the DNS forwarders, and the
/// control socket the later CLI calls and helpers talk to (sync-network, add-member,
/// remove-member, and the caller's own verbs). Disposing it stops and removes all of them.
/// </summary>
public sealed class MonitoredVm : IAsyncDisposable
{
    private readonly RuntimeConfig _config;
    private readonly Action<string> _log;
    private readonly string _logName;
    private readonly CancellationTokenSource _watch = new();
    private readonly Dictionary<string, (DnsForwarder Stream, DnsForwarder Datagrams, uint Port)> _dns = [];
    private MonitorControl? _control;
    private int _watching;
    private int _killedOnRequest;

    private MonitoredVm(RuntimeConfig config, string logName, string shareDir, SandboxVm sandbox, NetworkMirror network, Action<string> log)
    {
        _config = config;
        _logName = logName;
        ShareDir = shareDir;
        Sandbox = sandbox;
        Network = network;
        _log = log;
    }

    public SandboxVm Sandbox { get; }

    public NetworkMirror Network { get; }

    /// <summary>The share's directory on the host (virtiofsd's root).</summary>
    public string ShareDir { get; }

    /// <summary>
    /// The container whose resolv.conf the DNS relays follow and whose files add-member may
    /// attach: the VM's own container, or the one that claimed a pooled VM (null until then).
    /// </summary>
    public LoadedSpec? Container { get; set; }

    /// <summary>The configs of pod members whose files add-member attaches (null: none taken).</summary>
    public Func<string, LoadedSpec>? LoadMember { get; set; }

    /// <summary>
    /// Boots a VM in the calling thread's network namespace: its interfaces now are plugged at
    /// boot; on microvm <paramref name="wiredLater"/> adds spare NICs, on q35 hot-plug slots.
    /// On failure nothing is left.
    /// </summary>
    /// <param name="networkRead">
    /// Called, when given, once the namespace has been read for the NICs to boot with, before QEMU
    /// starts: from then on hooks may wire the namespace while the VM boots (<see cref="SandboxMonitor"/>).
    /// </param>
    public static async Task<MonitoredVm> BootAsync(RuntimeConfig config, string id, string runDir, SharedDir share, int memoryMiB, int vcpus, bool wiredLater, Action<string> log, CancellationToken ct,
        Func<Task>? networkRead = null)
    {
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), log);
        NetworkMirror network = NetworkMirror.Open(log);
        try
        {
            if (networkRead is not null)
            {
                await networkRead();
            }
            // A namespace wired later (Docker's prestart hook) gets spare NICs on microvm; the agent
            // keeps them out of the container's sight until they take an interface (ADR 0016).
            MachineType machine = config.Machine;
            if (machine == MachineType.Microvm)
            {
                network.WithoutHotplug(spares: wiredLater ? NetworkMirror.SpareNics : 0);
            }
            VmSpec spec = factory.CreateSpec(id, runDir) with
            {
                Machine = machine,
                MemoryMiB = memoryMiB,
                Vcpus = vcpus,
                Devices = network.BootDevices,
                HotplugSlots = machine == MachineType.Q35 ? SandboxMonitor.NetworkHotplugSlots : 0,
            };
            long phase = Environment.TickCount64;
            long bootBegan = PhaseLog.Now();
            SandboxVm sandbox = await factory.BootAsync(spec, [share], ct);
            BootTimings t = sandbox.Timings;
            log($"sandbox {id}: vm ready in {Environment.TickCount64 - phase} ms (qemu {t.QemuStartMs:F0}, firmware {t.FirmwareMs:F0}, kernel {t.KernelMs:F0}, agent {t.AgentInitMs:F0} ms)");
            MarkBoot(config.PhaseLogPath, id, bootBegan, t);
            PhaseLog.Mark(config.PhaseLogPath, id, "agent-checked");
            var monitored = new MonitoredVm(config, "sandbox " + id, share.HostPath, sandbox, network, log);
            _ = monitored.EndWhenShareLostAsync();
            _ = ConsoleLogCap.WatchAsync(sandbox.Vm.ConsoleLogPath, log, monitored._watch.Token);
            return monitored;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The boot's steps on the phase log: each at the boot's start plus the timings the boot measured.</summary>
    private static void MarkBoot(string? phaseLog, string id, long began, BootTimings t)
    {
        double at = 0;
        foreach (var (phase, ms) in new[] { ("qemu-up", t.QemuStartMs), ("kernel", t.FirmwareMs), ("init", t.KernelMs), ("agent-ready", t.AgentInitMs) })
        {
            at += ms;
            PhaseLog.Mark(phaseLog, id, phase, began + (long)(at * 1000));
        }
    }

    /// <summary>
    /// A killed virtiofsd would leave the container hanging on its files, so the VM goes: the
    /// waiter then sees the guest lost and the container exits with <see cref="SandboxMonitor.VmLostExitCode"/>.
    /// </summary>
    private async Task EndWhenShareLostAsync()
    {
        string why = await Sandbox.ShareDaemonLostAsync();
        // virtiofsd also ends because QEMU did (it exits when QEMU disconnects): give QEMU's exit a
        // moment to be seen, so that a killed QEMU is not reported as a lost share.
        if (await Sandbox.Vm.WaitExitAsync(TimeSpan.FromMilliseconds(300)))
        {
            return;
        }
        ShareLost = why;
        _log($"{_logName}: {why}; stopping the vm");
        await Sandbox.Vm.StopAsync(TimeSpan.Zero, CancellationToken.None);
    }

    /// <summary>What ended the VM when a virtiofsd was lost under it, else null.</summary>
    public string? ShareLost { get; private set; }

    /// <summary>True once a caller had the VM killed (<see cref="MonitorControl.KillVm"/>): the container was SIGKILLed with it.</summary>
    public bool KilledOnRequest => Volatile.Read(ref _killedOnRequest) != 0;

    /// <summary>
    /// SIGKILL to QEMU, not QMP: `kill -9` of a guest whose agent does not answer, and QEMU may
    /// be as stuck as the guest. The waiter then sees the guest lost and the monitor ends.
    /// </summary>
    private async Task KillVmAsync()
    {
        Interlocked.Exchange(ref _killedOnRequest, 1);
        if (Sandbox.Vm.HasExited)
        {
            return;
        }
        _log($"{_logName}: killing the vm (qemu {Sandbox.Vm.Pid}) on request");
        try
        {
            using var qemu = System.Diagnostics.Process.GetProcessById(Sandbox.Vm.Pid);
            qemu.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // gone already
        }
        await Sandbox.Vm.WaitExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Mirrors the interfaces the namespace has now into the guest (and the DNS relays).</summary>
    public Task SyncNetworkAsync(CancellationToken ct) => Network.SyncAsync(Sandbox.Vm, Sandbox.Agent, DnsRelays(), ct);

    /// <summary>
    /// Listens on the control socket in <paramref name="runDir"/>; <paramref name="verbs"/> takes
    /// the verbs of the caller's own first (null: not one of them).
    /// </summary>
    public void StartControl(string runDir, Func<string, CancellationToken, Task?>? verbs = null)
    {
        _control = MonitorControl.Start(runDir, (verb, token) => verbs?.Invoke(verb, token) ?? (verb.Split(' ', 2) switch
        {
            [MonitorControl.SyncNetwork] => SyncAndWatchAsync(token),
            [MonitorControl.AddMember, string member] => Task.Run(() => AddMember(member), token),
            [MonitorControl.RemoveMember, string member] => Task.Run(() => MemberShares.Remove(Sandbox.ShareDaemonPid(), SandboxPlan.MemberPrefix(member)), token),
            [MonitorControl.KillVm] => KillVmAsync(),
            _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown control verb \"{verb}\""),
        }), _log);
    }

    private async Task SyncAndWatchAsync(CancellationToken token)
    {
        await SyncNetworkAsync(token);
        // Once started, interfaces Docker adds later (network connect) are mirrored too.
        if (Interlocked.Exchange(ref _watching, 1) == 0)
        {
            _ = Network.WatchAsync(Sandbox.Vm, Sandbox.Agent, DnsRelays, SandboxMonitor.NetworkWatchInterval, _watch.Token);
        }
    }

    private void AddMember(string member)
    {
        ContainerIdValidator.Validate(member);
        LoadedSpec loaded = (LoadMember ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{_logName} takes no pod members"))(member);
        string prefix = SandboxPlan.MemberPrefix(member);
        SandboxPlan plan = SandboxPlan.Create(loaded, _config, ShareDir, p => File.Exists(p) || Directory.Exists(p), File.ReadLines(HostMountInfo), prefix);
        MemberShares.Add(Sandbox.ShareDaemonPid(), plan.Share.Binds, prefix);
        _log($"{_logName}: container {member}'s files are in the share under {prefix}");
    }

    /// <summary>
    /// The host's mounts as this thread sees them: /proc/self is the thread group leader, whose
    /// main thread may wait in the container's <see cref="RootfsView"/>, a mount namespace of its own.
    /// </summary>
    public const string HostMountInfo = "/proc/thread-self/mountinfo";

    /// <summary>
    /// Loopback name servers of the container's resolv.conf (Docker's embedded DNS, 127.0.0.11, is
    /// on the host side of the namespace) get a forwarder here and a relay in the guest. Read at
    /// every network sync: Docker rewrites the file to 127.0.0.11 in its prestart hook, after boot.
    /// </summary>
    private List<DnsRelay> DnsRelays()
    {
        // Only a resolv.conf the caller mounts (Docker, podman and CRI always do): the image's own
        // is untrusted, and reading it on the host would follow its symlinks here.
        string? path = Container?.Spec.Mounts?.LastOrDefault(m => m.Destination is "/etc/resolv.conf" or "/etc/resolv.conf/")?.Source;
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
        lock (_dns)
        {
            foreach (System.Net.IPAddress server in ResolvConf.LoopbackNameservers(text))
            {
                if (!_dns.TryGetValue(server.ToString(), out (DnsForwarder Stream, DnsForwarder Datagrams, uint Port) entry))
                {
                    // Two ports per server: TCP clients spliced, UDP queries asked over UDP.
                    uint port = SandboxMonitor.DnsRelayPortBase + (2 * (uint)_dns.Count);
                    var upstream = new System.Net.IPEndPoint(server, 53);
                    string uds = Sandbox.VsockUdsPath;
                    DnsForwarder stream = DnsForwarder.Start(uds, port, upstream, line => _log($"dns {server}: {line}"));
                    entry = (stream, DnsForwarder.Start(uds, port + 1, upstream, line => _log($"dns {server}: {line}"), datagrams: true), port);
                    _dns[server.ToString()] = entry;
                    _log($"dns: relaying {server} through vsock ports {port} (tcp) and {port + 1} (udp)");
                }
                relays.Add(new DnsRelay { ListenAddress = server.ToString(), HostPort = entry.Port, HostDatagramPort = entry.Port + 1 });
            }
        }
        return relays;
    }

    public async ValueTask DisposeAsync()
    {
        await _watch.CancelAsync();
        if (_control is not null)
        {
            await _control.DisposeAsync();
        }
        await Sandbox.DisposeAsync();
        Network.Dispose(); // after QEMU: its taps are gone, the veths' qdiscs go here
        lock (_dns)
        {
            foreach ((DnsForwarder stream, DnsForwarder datagrams, _) in _dns.Values)
            {
                stream.Dispose();
                datagrams.Dispose();
            }
        }
        _watch.Dispose();
    }
}
