using System.Net;
using System.Net.Sockets;
using VmSandbox.Interop.Netlink;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// What the container's network namespace holds that the guest must mirror: its Ethernet
/// interfaces (the veths Docker, CNI or podman put there; not loopback, not tun/tap devices such
/// as our own), their addresses and the routes through them. Pure: built from netlink dumps, so
/// the selection rules are unit-tested without a namespace.
/// </summary>
public sealed record NetnsSnapshot(IReadOnlyList<HostInterface> Interfaces, IReadOnlyList<HostRoute> Routes, IReadOnlyList<string> OurTaps)
{
    /// <summary>Our tap devices are named "vmstap&lt;n&gt;"; one in a namespace means a sandbox already serves it.</summary>
    public const string TapPrefix = "vmstap";

    public static NetnsSnapshot From(IReadOnlyList<NetLink> links, IReadOnlyList<NetAddress> addresses, IReadOnlyList<NetRoute> routes)
    {
        var interfaces = new List<HostInterface>();
        var taps = new List<string>();
        foreach (NetLink link in links.OrderBy(l => l.Index))
        {
            if (link.Name.StartsWith(TapPrefix, StringComparison.Ordinal))
            {
                taps.Add(link.Name);
                continue;
            }
            if (link.LinkType != ARPHRD_ETHER || link.Kind == "tun" || link.MacString is not { } mac)
            {
                continue;
            }
            interfaces.Add(new HostInterface
            {
                Index = link.Index,
                Name = link.Name,
                Mac = mac,
                Mtu = link.Mtu,
                Up = link.IsUp,
                Addresses = addresses
                    .Where(a => a.LinkIndex == link.Index && !IsLinkLocalV6(a.Address))
                    .Select(a => (a.Address, a.PrefixLength))
                    .ToList(),
            });
        }
        var names = interfaces.ToDictionary(i => i.Index, i => i.Name);
        var mirrored = new List<HostRoute>();
        foreach (NetRoute r in routes)
        {
            // The kernel derives the prefix routes of addresses (proto kernel) itself, in the guest too.
            if (r.Type != RTN_UNICAST || r.Protocol == RTPROT_KERNEL || !names.TryGetValue(r.OutputLinkIndex, out string? device))
            {
                continue;
            }
            if (r.Destination is { } d && (IsLinkLocalV6(d) || d.IsIPv6Multicast))
            {
                continue;
            }
            mirrored.Add(new HostRoute(r.Family, r.PrefixLength == 0 ? null : r.Destination, r.PrefixLength, r.Gateway, device, r.PreferredSource, r.Priority));
        }
        return new NetnsSnapshot(interfaces, mirrored, taps);
    }

    private static bool IsLinkLocalV6(IPAddress a) => a.AddressFamily == AddressFamily.InterNetworkV6 && a.IsIPv6LinkLocal;
}
