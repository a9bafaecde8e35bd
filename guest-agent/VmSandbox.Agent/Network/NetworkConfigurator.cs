using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop.Netlink;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Agent.Network;

/// <summary>
/// Gives the guest the network of the container's namespace on the host (ConfigureNetwork):
/// each NIC, found by the MAC the host gave it (hot-plugged ones may take a moment to appear),
/// gets the host interface's name, MTU and addresses and is brought up; then the routes, on-link
/// ones before those through a gateway. Netlink only: the guest has no `ip` binary. Adding what
/// exists already is not an error, so the host may send an interface again.
/// Everything here runs in the guest's root network namespace, which the containers share.
/// </summary>
public static class NetworkConfigurator
{
    /// <summary>errno.h: what adding an address or route that exists already returns.</summary>
    private const int EEXIST = 17;

    private static readonly TimeSpan s_defaultLinkWait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(20);

    /// <summary>runc compat: lo is up in every container (127.0.0.1 comes with it).</summary>
    public static void BringUpLoopback()
    {
        using RtNetlink netlink = RtNetlink.Open();
        NetLink lo = netlink.GetLinks().FirstOrDefault(l => l.LinkType == ARPHRD_LOOPBACK)
            ?? throw new VmSandboxException(ErrorCode.System, "bring up loopback: no loopback interface");
        netlink.SetLinkUp(lo.Index, true);
    }

    public static void Configure(ConfigureNetworkRequest request)
    {
        using RtNetlink netlink = RtNetlink.Open();
        TimeSpan wait = request.LinkWaitMs > 0 ? TimeSpan.FromMilliseconds(request.LinkWaitMs) : s_defaultLinkWait;
        foreach (NetworkInterface nic in request.Interfaces)
        {
            ConfigureInterface(netlink, nic, wait);
        }
        foreach (Route route in request.Routes)
        {
            AddRoute(netlink, route);
        }
        foreach (Protocol.DnsRelay relay in request.DnsRelays)
        {
            StartRelay(relay);
        }
    }

    /// <summary>The relays serving loopback name servers, by address; they live as long as the VM.</summary>
    private static readonly Dictionary<string, DnsRelay> s_relays = [];

    /// <summary>
    /// Serves a loopback name server of the container's resolv.conf (Docker's 127.0.0.11) in the
    /// guest, relaying each query to the host side of the namespace, where it lives.
    /// </summary>
    private static void StartRelay(Protocol.DnsRelay relay)
    {
        IPAddress address = ParseAddress(relay.ListenAddress, "dns relay");
        if (!IPAddress.IsLoopback(address) || relay.HostPort == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"dns relay {address}: not a loopback address or no host port");
        }
        lock (s_relays)
        {
            if (!s_relays.ContainsKey(address.ToString()))
            {
                s_relays[address.ToString()] = DnsRelay.Start(address, DnsRelay.VsockHost(relay.HostPort),
                    line => Console.Out.WriteLine($"{AgentInfo.ConsolePrefix} dns relay {address}: {line}"),
                    connectForDatagrams: relay.HostDatagramPort == 0 ? null : DnsRelay.VsockHost(relay.HostDatagramPort));
            }
        }
    }

    private static void ConfigureInterface(RtNetlink netlink, NetworkInterface nic, TimeSpan wait)
    {
        string mac = nic.MacAddress.ToLowerInvariant();
        string deviceMac = nic.DeviceMac.Length > 0 ? nic.DeviceMac.ToLowerInvariant() : mac;
        bool spare = deviceMac != mac;
        if (spare)
        {
            // A spare NIC waits parked out of the containers' sight until it gets an interface.
            _ = SpareNics.Unpark(deviceMac);
        }
        NetLink link = WaitForLink(netlink, deviceMac, wait)
            ?? throw new VmSandboxException(ErrorCode.NotFound, $"configure {nic.Name}: no network device with mac {deviceMac} appeared within {wait.TotalSeconds:F0}s");
        if (spare)
        {
            // A spare NIC takes the host interface's address (virtio-net tells QEMU's receive filter).
            netlink.SetLinkUp(link.Index, false);
            netlink.SetLinkMac(link.Index, ParseMac(mac, nic.Name));
        }
        if (nic.Name.Length > 0 && link.Name != nic.Name)
        {
            netlink.SetLinkUp(link.Index, false);
            // The kernel names NICs in probe order: the name we want may be another NIC's.
            if (netlink.GetLinks().FirstOrDefault(l => l.Name == nic.Name) is { } other)
            {
                netlink.SetLinkUp(other.Index, false);
                netlink.SetLinkName(other.Index, "vmsnic" + other.Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            netlink.SetLinkName(link.Index, nic.Name);
        }
        if (nic.Mtu > 0)
        {
            netlink.SetLinkMtu(link.Index, (int)nic.Mtu);
        }
        foreach (IpAddress a in nic.Addresses)
        {
            IPAddress address = ParseAddress(a.Address, nic.Name);
            int max = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
            if (a.PrefixLength > max)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"configure {nic.Name}: prefix length {a.PrefixLength} of {address} is out of range");
            }
            IgnoreExisting(() => netlink.AddAddress(link.Index, address, (int)a.PrefixLength));
        }
        netlink.SetLinkUp(link.Index, nic.Up);
    }

    private static NetLink? WaitForLink(RtNetlink netlink, string mac, TimeSpan wait)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (netlink.GetLinks().FirstOrDefault(l => l.MacString == mac) is { } link)
            {
                return link;
            }
            if (clock.Elapsed > wait)
            {
                return null;
            }
            Thread.Sleep(s_poll);
        }
    }

    private static void AddRoute(RtNetlink netlink, Route route)
    {
        (IPAddress destination, int prefix) = ParseCidr(route.Destination);
        IPAddress? gateway = route.Gateway.Length > 0 ? ParseAddress(route.Gateway, route.Device) : null;
        NetLink device = netlink.GetLinks().FirstOrDefault(l => l.Name == route.Device)
            ?? throw new VmSandboxException(ErrorCode.NotFound, $"route {route.Destination} dev {route.Device}: no such device");
        var r = new NetRoute
        {
            Family = destination.AddressFamily,
            Destination = prefix == 0 ? null : destination,
            PrefixLength = prefix,
            Gateway = gateway,
            OutputLinkIndex = device.Index,
            PreferredSource = route.Source.Length > 0 ? ParseAddress(route.Source, route.Device) : null,
            Priority = route.Metric,
            Scope = gateway is null ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
        };
        IgnoreExisting(() => netlink.AddRoute(r));
    }

    private static (IPAddress Address, int Prefix) ParseCidr(string cidr)
    {
        int slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(cidr.AsSpan(0, slash), out IPAddress? address) ||
            !int.TryParse(cidr.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix) ||
            prefix > (address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"route destination \"{cidr}\" is not an address/prefix");
        }
        return (address, prefix);
    }

    private static IPAddress ParseAddress(string text, string context) =>
        IPAddress.TryParse(text, out IPAddress? a) && a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? a
            : throw new VmSandboxException(ErrorCode.InvalidArgument, $"configure {context}: \"{text}\" is not an IP address");

    /// <summary>A unicast Ethernet address, "aa:bb:cc:dd:ee:ff".</summary>
    private static byte[] ParseMac(string text, string context) =>
        System.Net.NetworkInformation.PhysicalAddress.TryParse(text, out var a) && a.GetAddressBytes() is { Length: 6 } bytes && (bytes[0] & 1) == 0
            ? bytes
            : throw new VmSandboxException(ErrorCode.InvalidArgument, $"configure {context}: \"{text}\" is not a unicast mac address");

    private static void IgnoreExisting(Action add)
    {
        try
        {
            add();
        }
        catch (VmSandboxException e) when (e.Errno == EEXIST)
        {
        }
    }
}
