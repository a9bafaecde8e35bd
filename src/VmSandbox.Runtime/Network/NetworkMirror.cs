using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Interop.Netlink;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// Mirrors the container's network namespace into its VM (ADR 0013). It runs in the sandbox
/// monitor, which lives in that namespace. For each Ethernet interface there (Docker's, CNI's or
/// podman's veth) the VM gets a virtio-net NIC with the same MAC, backed by a tap device that
/// QEMU creates in the namespace; tc ingress + u32 match-all + mirred redirect move every frame
/// between the veth and the tap in both directions (Kata's default model), and the agent gives
/// the NIC the veth's name, MTU, addresses and routes. Interfaces present at boot are plugged at
/// boot; those that appear later (Docker 20.10 wires the namespace in the prestart hook, after
/// the VM booted) are hot-plugged by <see cref="SyncAsync"/>, which `start` asks for before the
/// container's process runs. A VM that cannot hot-plug (microvm) gets <see cref="SpareNics"/>
/// spare NICs at boot instead, which the interfaces that appear later take over in turn; one more
/// cannot be mirrored there, and is logged. Nothing outlives the sandbox: the taps go with QEMU, and
/// <see cref="Dispose"/> removes the ingress qdiscs (and with them the filters) from the veths.
/// Collaborators: <see cref="NetnsSnapshot"/> and <see cref="NetworkPlan"/> (pure decisions),
/// <see cref="RtNetlink"/>, <see cref="IVm.HotplugAsync"/>, <see cref="AgentClient"/>.
/// </summary>
public sealed class NetworkMirror : IDisposable
{
    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// The namespace's own ephemeral ports, 61440-65535 (prefix/mask 0xF000): disjoint from the
    /// guest kernel's (32768-60999), so the return traffic of the host side's own connections is
    /// told apart from the guest's by its destination port alone.
    /// </summary>
    public const ushort HostPortPrefix = 0xF000;
    public const ushort HostPortMask = 0xF000;
    private const ushort HostPortPassPriority = 1;

    /// <summary>
    /// NICs kept ready on a VM without hot-plug: Docker's first network (wired after create) and one
    /// `docker network connect`. A spare left unused stays down in the guest, so it holds no
    /// receive buffers; each costs a tap and a virtio-net device.
    /// </summary>
    public const int SpareNics = 2;
    private const string PortRangeSysctl = "/proc/sys/net/ipv4/ip_local_port_range";

    private readonly RtNetlink _netlink;
    private readonly Action<string> _log;
    private readonly List<(HostInterface Host, NetDevice Device)> _mirrored = [];
    private readonly List<(HostInterface Host, NetDevice Device)> _unwired = [];
    private readonly List<NetDevice> _spares = [];
    /// <summary>Interface name → placeholder MAC of the spare NIC that took it, for the agent.</summary>
    private readonly Dictionary<string, string> _spareMacs = new(StringComparer.Ordinal);
    /// <summary>Interfaces that appeared with no way to give them a NIC; logged once.</summary>
    private readonly List<HostInterface> _refused = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _canHotplug = true;

    private NetworkMirror(RtNetlink netlink, Action<string> log)
    {
        _netlink = netlink;
        _log = log;
    }

    /// <summary>
    /// Opens the calling thread's network namespace (the container's) and plans the NICs of the
    /// interfaces already there. Refuses a namespace that another sandbox already mirrors.
    /// </summary>
    public static NetworkMirror Open(Action<string> log)
    {
        RtNetlink netlink = RtNetlink.Open();
        try
        {
            var mirror = new NetworkMirror(netlink, log);
            ReserveHostPorts();
            NetnsSnapshot snapshot = mirror.Read();
            if (snapshot.OurTaps.Count > 0)
            {
                throw new VmSandboxException(ErrorCode.FailedPrecondition,
                    $"the network namespace is already used by another vmsandbox sandbox ({snapshot.OurTaps[0]}): a VM cannot share another VM's network stack");
            }
            foreach (HostInterface host in snapshot.Interfaces)
            {
                var entry = (host, NetworkPlan.DeviceFor(host, mirror._mirrored.Count + mirror._unwired.Count));
                mirror._unwired.Add(entry);
            }
            return mirror;
        }
        catch
        {
            netlink.Dispose();
            throw;
        }
    }

    /// <summary>
    /// For a VM that cannot hot-plug (microvm): <paramref name="spares"/> spare NICs at boot take the
    /// interfaces that appear later; any more are logged. Call before <see cref="BootDevices"/> is read.
    /// </summary>
    public void WithoutHotplug(int spares)
    {
        _canHotplug = false;
        for (int i = 0; i < spares; i++)
        {
            _spares.Add(NetworkPlan.SpareDevice(_unwired.Count + i));
        }
    }

    /// <summary>Whether the namespace had Ethernet interfaces when it was opened (CNI and podman wire it before create, Docker after).</summary>
    public bool WiredAtOpen => _unwired.Count > 0;

    /// <summary>NICs to add at boot: one per interface present now, and the spares if there are any.</summary>
    public IReadOnlyList<VmDevice> BootDevices => _unwired.Select(e => (VmDevice)e.Device).Concat(_spares).ToList();

    /// <summary>Names of the interfaces mirrored so far, for messages.</summary>
    public IReadOnlyList<string> Mirrored => _mirrored.Select(e => e.Host.Name).ToList();

    /// <summary>
    /// Makes the guest's network match the namespace: wires the NICs plugged at boot, hot-plugs
    /// one for every interface that appeared since, and has the agent configure them. Returns once
    /// the guest's interfaces are configured, so a process started after it never sees a
    /// half-configured network. Safe to call again; it only adds what is new.
    /// </summary>
    public async Task SyncAsync(IVm vm, AgentClient agent, IReadOnlyList<DnsRelay> relays, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            NetnsSnapshot snapshot = Read();
            IReadOnlyList<HostInterface> added = NetworkPlan.NewInterfaces(snapshot, Known());
            foreach (HostInterface host in added)
            {
                if (_spares.Count > 0)
                {
                    NetDevice spare = _spares[0];
                    _spares.RemoveAt(0);
                    _spareMacs[host.Name] = spare.Mac;
                    _unwired.Add((host, spare));
                    _log($"network: spare {spare.Id} takes {host.Name} ({host.Mac})");
                }
                else if (_canHotplug)
                {
                    NetDevice device = NetworkPlan.DeviceFor(host, _mirrored.Count + _unwired.Count);
                    await vm.HotplugAsync(device, ct);
                    _unwired.Add((host, device));
                    _log($"network: hot-plugged {device.Id} for {host.Name} ({host.Mac})");
                }
                else
                {
                    _refused.Add(host);
                    _log($"network: {host.Name} ({host.Mac}) is not mirrored: this machine type cannot hot-plug a NIC (hypervisor.machine q35 can)");
                }
            }
            if (_unwired.Count == 0 && relays.Count == 0)
            {
                return;
            }
            List<HostInterface> configure = [];
            foreach ((HostInterface host, NetDevice device) in _unwired.ToList())
            {
                Wire(host, device);
                _mirrored.Add((host, device));
                _unwired.Remove((host, device));
                configure.Add(snapshot.Interfaces.FirstOrDefault(i => i.Name == host.Name) ?? host);
            }
            ConfigureNetworkRequest request = NetworkPlan.Request(configure, snapshot.Routes, _spareMacs);
            request.DnsRelays.AddRange(relays);
            await agent.ConfigureNetworkAsync(request, s_call, ct);
            _log($"network: guest configured ({string.Join(", ", configure.Select(i => i.Name))})");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The namespace's ephemeral ports (shared by IPv4 and IPv6) move to the range the pass filter lets through.</summary>
    private static void ReserveHostPorts() =>
        File.WriteAllText(PortRangeSysctl, $"{HostPortPrefix} {ushort.MaxValue}");

    /// <summary>
    /// After the container started: interfaces added to the namespace later (`docker network
    /// connect`) get a NIC too. The namespace is polled every <paramref name="interval"/>; a new
    /// interface is taken once it is up with an address and has looked the same (addresses and
    /// routes) in two polls in a row, so one that its network manager is still configuring is not
    /// copied half-done. Ends with <paramref name="ct"/>; a failure is logged, and the next poll tries again.
    /// </summary>
    public async Task WatchAsync(IVm vm, AgentClient agent, Func<IReadOnlyList<DnsRelay>> relays, TimeSpan interval, CancellationToken ct)
    {
        string previous = "";
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, ct);
                NetnsSnapshot snapshot;
                List<HostInterface> added;
                await _gate.WaitAsync(ct);
                try
                {
                    snapshot = Read();
                    added = [.. NetworkPlan.NewInterfaces(snapshot, Known()).Where(i => i.Up && i.Addresses.Count > 0)];
                }
                finally
                {
                    _gate.Release();
                }
                string seen = added.Count == 0 ? "" : string.Join(";", added.Select(Describe).Concat(snapshot.Routes.Select(r => r.ToString())));
                if (seen.Length > 0 && seen == previous)
                {
                    await SyncAsync(vm, agent, relays(), ct);
                    seen = "";
                }
                previous = seen;
            }
            catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException)
            {
                return; // the sandbox is ending
            }
            catch (Exception e) when (e is VmSandboxException or IOException or System.Net.Sockets.SocketException)
            {
                _log($"network: watch: {VmSandboxException.FormatChain(e)}");
            }
        }
    }

    /// <summary>Interfaces already dealt with: mirrored, plugged and waiting to be wired, or refused.</summary>
    private IEnumerable<HostInterface> Known() => _mirrored.Concat(_unwired).Select(e => e.Host).Concat(_refused);

    private static string Describe(HostInterface i) =>
        $"{i.Name} {i.Mac} {i.Mtu} {string.Join(",", i.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}"))}";

    private NetnsSnapshot Read() => NetnsSnapshot.From(_netlink.GetLinks(), _netlink.GetAddresses(), _netlink.GetRoutes());

    /// <summary>tc mirroring between the host interface and the tap QEMU created for it.</summary>
    private void Wire(HostInterface host, NetDevice device)
    {
        NetLink tap = _netlink.GetLinks().FirstOrDefault(l => l.Name == device.TapName)
            ?? throw new VmSandboxException(ErrorCode.Vm, $"network: tap {device.TapName} for {host.Name} not found: qemu did not create it");
        if (host.Mtu > 0)
        {
            _netlink.SetLinkMtu(tap.Index, host.Mtu);
        }
        _netlink.SetLinkUp(tap.Index, true);
        _netlink.AddIngressQdisc(host.Index);
        // Replies to the namespace's own sockets (Docker's embedded DNS forwarding a query for an
        // outside name) go to its stack, not the guest: their ports are the namespace's ephemeral
        // range, which ReserveHostPorts moved above the guest's.
        _netlink.AddPortPass(host.Index, HostPortPassPriority, HostPortPrefix, HostPortMask);
        // That host side resolves its next hop too: ARP and neighbour discovery reach both.
        _netlink.AddNeighbourMirror(host.Index, tap.Index, HostPortPassPriority + 2);
        _netlink.AddMirredRedirect(host.Index, tap.Index);
        _netlink.AddIngressQdisc(tap.Index);
        _netlink.AddMirredRedirect(tap.Index, host.Index);
    }

    /// <summary>
    /// What a monitor that died before its <see cref="Dispose"/> left in a namespace that outlives
    /// the container (CNI's, podman's): the ingress qdiscs, with their filters, of the interfaces it
    /// mirrored. Only a namespace none of our taps serves any more is touched (a live sandbox's
    /// filters stay); a namespace that is gone has nothing left.
    /// </summary>
    public static void CleanUpNamespace(string netnsPath, Action<string> log)
    {
        if (!File.Exists(netnsPath))
        {
            return;
        }
        try
        {
            using RtNetlink netlink = RtNetlink.OpenInNamespace(netnsPath);
            NetnsSnapshot snapshot = NetnsSnapshot.From(netlink.GetLinks(), netlink.GetAddresses(), netlink.GetRoutes());
            if (snapshot.OurTaps.Count > 0)
            {
                return;
            }
            foreach (HostInterface host in snapshot.Interfaces)
            {
                if (netlink.DeleteIngressQdisc(host.Index))
                {
                    log($"network: removed the ingress qdisc left on {host.Name} in {netnsPath}");
                }
            }
        }
        catch (VmSandboxException e)
        {
            log($"network: clean up {netnsPath}: {e.Message}");
        }
    }

    /// <summary>Removes the ingress qdiscs (and their filters) from the host interfaces; the taps go with QEMU.</summary>
    public void Dispose()
    {
        foreach ((HostInterface host, _) in _mirrored)
        {
            try
            {
                _netlink.DeleteIngressQdisc(host.Index);
            }
            catch (VmSandboxException e)
            {
                _log($"network: remove the ingress qdisc of {host.Name}: {e.Message}");
            }
        }
        _netlink.Dispose();
        _gate.Dispose();
    }
}
