using System.Net;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Interop.Netlink;

/// <summary>Links, addresses and routes: dumps (host side) and the settings the guest applies.</summary>
public sealed partial class RtNetlink
{
    /// <summary>Every link of the namespace (RTM_GETLINK dump).</summary>
    public IReadOnlyList<NetLink> GetLinks() =>
        Dump("RTM_GETLINK", RTM_NEWLINK, NetlinkRequests.GetLinks, NetlinkDecoder.DecodeLink);

    /// <summary>Every IPv4 and IPv6 address of the namespace (RTM_GETADDR dump).</summary>
    public IReadOnlyList<NetAddress> GetAddresses() =>
        Dump("RTM_GETADDR", RTM_NEWADDR, NetlinkRequests.GetAddresses, NetlinkDecoder.DecodeAddress);

    /// <summary>
    /// The IPv4 and IPv6 routes of the main table (RTM_GETROUTE dump); callers mirroring them
    /// keep those of Type RTN_UNICAST.
    /// </summary>
    public IReadOnlyList<NetRoute> GetRoutes() =>
        Dump("RTM_GETROUTE", RTM_NEWROUTE, NetlinkRequests.GetRoutes, NetlinkDecoder.DecodeRoute);

    public void SetLinkUp(int index, bool up) =>
        Transact("RTM_NEWLINK", $"link {index} {(up ? "up" : "down")}", (b, seq) => NetlinkRequests.SetLinkUp(b, seq, index, up));

    public void SetLinkMtu(int index, int mtu) =>
        Transact("RTM_NEWLINK", $"link {index} mtu {mtu}", (b, seq) => NetlinkRequests.SetLinkMtu(b, seq, index, mtu));

    public void SetLinkMac(int index, ReadOnlySpan<byte> mac)
    {
        byte[] copy = mac.ToArray();
        Transact("RTM_NEWLINK", $"link {index} address {string.Join(':', copy.Select(b => b.ToString("x2")))}", (b, seq) => NetlinkRequests.SetLinkMac(b, seq, index, copy));
    }

    /// <summary>Moves a link of this socket's namespace into the namespace open on <paramref name="netnsFd"/> (it keeps its name there: EEXIST if that is taken).</summary>
    public void SetLinkNamespace(int index, int netnsFd) =>
        Transact("RTM_NEWLINK", $"link {index} netns fd {netnsFd}", (b, seq) => NetlinkRequests.SetLinkNamespace(b, seq, index, netnsFd));

    /// <summary>Renames a link. Take it down first: many kernels refuse while it is up (EBUSY), though 6.18 let a veth be renamed up.</summary>
    public void SetLinkName(int index, string name) =>
        Transact("RTM_NEWLINK", $"link {index} name {name}", (b, seq) => NetlinkRequests.SetLinkName(b, seq, index, name));

    /// <summary>Adds an address (IPv6 with IFA_F_NODAD: usable at once); EEXIST if it is there.</summary>
    public void AddAddress(int index, IPAddress address, int prefixLength) =>
        Transact("RTM_NEWADDR", $"{address}/{prefixLength} dev {index}", (b, seq) => NetlinkRequests.AddAddress(b, seq, index, address, prefixLength));

    /// <summary>
    /// Adds a route (NLM_F_CREATE|NLM_F_EXCL: EEXIST if it is there, which includes the prefix
    /// route the kernel made for an address).
    /// </summary>
    public void AddRoute(NetRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        Transact("RTM_NEWROUTE", Describe(route), (b, seq) => NetlinkRequests.AddRoute(b, seq, route));
    }

    private static string Describe(NetRoute r)
    {
        string destination = r.Destination is null ? "default" : $"{r.Destination}/{r.PrefixLength}";
        string via = r.Gateway is null ? string.Empty : $" via {r.Gateway}";
        return $"{destination}{via} dev {r.OutputLinkIndex}";
    }
}
