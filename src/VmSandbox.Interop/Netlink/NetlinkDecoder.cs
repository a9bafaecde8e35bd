using System.Net;
using System.Net.Sockets;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// Turns the payload of one RTM_NEWLINK / RTM_NEWADDR / RTM_NEWROUTE dump message into a record.
/// Pure: no socket, so the unit tests feed it bytes, malformed ones included.
/// </summary>
public static class NetlinkDecoder
{
    public static NetLink DecodeLink(NetlinkMessage message)
    {
        ifinfomsg ifi = message.ReadHeader<ifinfomsg>();
        ReadOnlySpan<byte> attributes = message.AttributesAfter<ifinfomsg>();
        string? name = null;
        byte[]? mac = null;
        int mtu = 0;
        string? kind = null;
        int offset = 0;
        while (NetlinkAttribute.TryRead(attributes, ref offset, out NetlinkAttribute a))
        {
            switch (a.Type)
            {
                case IFLA_IFNAME:
                    name = a.GetString(IFNAMSIZ);
                    break;
                case IFLA_ADDRESS when a.Value.Length > 0:
                    mac = a.Value.ToArray();
                    break;
                case IFLA_MTU:
                    mtu = a.GetInt32();
                    break;
                case IFLA_LINKINFO:
                    kind = LinkKind(a.Value);
                    break;
            }
        }
        if (name is null)
        {
            throw NetlinkErrors.Malformed($"link {ifi.ifi_index} without IFLA_IFNAME");
        }
        return new NetLink(ifi.ifi_index, name, mac, mtu, ifi.ifi_flags, kind, ifi.ifi_type);
    }

    /// <summary>The address, or null for a family other than IPv4 and IPv6.</summary>
    public static NetAddress? DecodeAddress(NetlinkMessage message)
    {
        ifaddrmsg ifa = message.ReadHeader<ifaddrmsg>();
        if (ifa.ifa_family is not (AF_INET or AF_INET6))
        {
            return null;
        }
        CheckPrefix(ifa.ifa_family, ifa.ifa_prefixlen);
        ReadOnlySpan<byte> attributes = message.AttributesAfter<ifaddrmsg>();
        IPAddress? local = null;
        IPAddress? address = null;
        uint flags = ifa.ifa_flags;
        int offset = 0;
        while (NetlinkAttribute.TryRead(attributes, ref offset, out NetlinkAttribute a))
        {
            switch (a.Type)
            {
                case IFA_LOCAL:
                    local = a.GetIPAddress(ifa.ifa_family);
                    break;
                case IFA_ADDRESS:
                    address = a.GetIPAddress(ifa.ifa_family);
                    break;
                case IFA_FLAGS:
                    // if_addr.h: IFA_FLAGS (u32) supersedes the u8 ifa_flags.
                    flags = a.GetUInt32();
                    break;
            }
        }
        // if_addr.h: IFA_ADDRESS is the peer on point-to-point links, IFA_LOCAL the local
        // address; IPv6 sends only IFA_ADDRESS unless a peer is set.
        IPAddress ip = local ?? address ?? throw NetlinkErrors.Malformed($"address on link {ifa.ifa_index} without IFA_LOCAL or IFA_ADDRESS");
        return new NetAddress((int)ifa.ifa_index, Family(ifa.ifa_family), ip, ifa.ifa_prefixlen, ifa.ifa_scope, flags);
    }

    /// <summary>The route, or null for a family other than IPv4/IPv6 or a table other than main.</summary>
    public static NetRoute? DecodeRoute(NetlinkMessage message)
    {
        rtmsg rtm = message.ReadHeader<rtmsg>();
        if (rtm.rtm_family is not (AF_INET or AF_INET6))
        {
            return null;
        }
        CheckPrefix(rtm.rtm_family, rtm.rtm_dst_len);
        ReadOnlySpan<byte> attributes = message.AttributesAfter<rtmsg>();
        uint table = rtm.rtm_table;
        IPAddress? destination = null;
        IPAddress? gateway = null;
        IPAddress? source = null;
        int oif = 0;
        uint priority = 0;
        int offset = 0;
        while (NetlinkAttribute.TryRead(attributes, ref offset, out NetlinkAttribute a))
        {
            switch (a.Type)
            {
                case RTA_TABLE:
                    // rtnetlink.h: rtm_table holds only 8 bits; RTA_TABLE the full id.
                    table = a.GetUInt32();
                    break;
                case RTA_DST:
                    destination = a.GetIPAddress(rtm.rtm_family);
                    break;
                case RTA_GATEWAY:
                    gateway = a.GetIPAddress(rtm.rtm_family);
                    break;
                case RTA_PREFSRC:
                    source = a.GetIPAddress(rtm.rtm_family);
                    break;
                case RTA_OIF:
                    oif = a.GetInt32();
                    break;
                case RTA_PRIORITY:
                    priority = a.GetUInt32();
                    break;
            }
        }
        if (table != RT_TABLE_MAIN)
        {
            return null;
        }
        return new NetRoute
        {
            Family = Family(rtm.rtm_family),
            Destination = rtm.rtm_dst_len == 0 ? null : destination,
            PrefixLength = rtm.rtm_dst_len,
            Gateway = gateway,
            OutputLinkIndex = oif,
            PreferredSource = source,
            Priority = priority,
            Scope = rtm.rtm_scope,
            Protocol = rtm.rtm_protocol,
            Type = rtm.rtm_type,
            Table = table,
        };
    }

    private static string? LinkKind(ReadOnlySpan<byte> linkInfo)
    {
        int offset = 0;
        while (NetlinkAttribute.TryRead(linkInfo, ref offset, out NetlinkAttribute a))
        {
            if (a.Type == IFLA_INFO_KIND)
            {
                return a.GetString(64);
            }
        }
        return null;
    }

    private static void CheckPrefix(byte family, byte prefixLength)
    {
        if (prefixLength > (family == AF_INET ? 32 : 128))
        {
            throw NetlinkErrors.Malformed($"prefix length {prefixLength} for family {family}");
        }
    }

    private static AddressFamily Family(byte family) =>
        family == AF_INET ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
}
