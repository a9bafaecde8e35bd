using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VmSandbox.Common;
using static VmSandbox.Interop.Netlink.NetlinkConstants;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;
using static VmSandbox.Interop.Netlink.TcConstants;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// Encodes the rtnetlink requests <see cref="RtNetlink"/> sends, each into a caller's buffer,
/// returning its length. The bytes are those `ip` and `tc` send for the same command (the unit
/// tests hold captures of them), so the kernel treats both alike.
/// </summary>
public static class NetlinkRequests
{
    private const ushort DumpFlags = NLM_F_REQUEST | NLM_F_DUMP;
    private const ushort SetFlags = NLM_F_REQUEST | NLM_F_ACK;
    private const ushort CreateFlags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

    /// <summary>RTM_GETLINK dump of every link.</summary>
    public static int GetLinks(Span<byte> buffer, uint seq)
    {
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_GETLINK, DumpFlags, seq);
        w.Write(new ifinfomsg { ifi_family = AF_UNSPEC });
        return w.EndMessage();
    }

    /// <summary>RTM_GETADDR dump of every address of every family.</summary>
    public static int GetAddresses(Span<byte> buffer, uint seq)
    {
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_GETADDR, DumpFlags, seq);
        w.Write(new ifaddrmsg { ifa_family = AF_UNSPEC });
        return w.EndMessage();
    }

    /// <summary>RTM_GETROUTE dump of every route of every family and table (filtered when decoded).</summary>
    public static int GetRoutes(Span<byte> buffer, uint seq)
    {
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_GETROUTE, DumpFlags, seq);
        w.Write(new rtmsg { rtm_family = AF_UNSPEC });
        return w.EndMessage();
    }

    /// <summary>`ip link set dev X up|down`: RTM_NEWLINK with IFF_UP in ifi_change.</summary>
    public static int SetLinkUp(Span<byte> buffer, uint seq, int index, bool up)
    {
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWLINK, SetFlags, seq);
        w.Write(new ifinfomsg { ifi_index = index, ifi_flags = up ? IFF_UP : 0, ifi_change = IFF_UP });
        return w.EndMessage();
    }

    /// <summary>`ip link set dev X mtu N`.</summary>
    public static int SetLinkMtu(Span<byte> buffer, uint seq, int index, int mtu)
    {
        if (mtu <= 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"set mtu of link {index}: mtu {mtu} is not positive");
        }
        var w = LinkRequest(buffer, seq, index);
        w.WriteAttribute(IFLA_MTU, (uint)mtu);
        return w.EndMessage();
    }

    /// <summary>`ip link set dev X address aa:bb:…`.</summary>
    public static int SetLinkMac(Span<byte> buffer, uint seq, int index, ReadOnlySpan<byte> mac)
    {
        // netdevice.h MAX_ADDR_LEN = 32.
        if (mac.Length is 0 or > 32)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"set address of link {index}: {mac.Length}-byte hardware address");
        }
        var w = LinkRequest(buffer, seq, index);
        w.WriteAttribute(IFLA_ADDRESS, mac);
        return w.EndMessage();
    }

    /// <summary>`ip link set dev X netns FD`: moves the link into the network namespace open on <paramref name="netnsFd"/>.</summary>
    public static int SetLinkNamespace(Span<byte> buffer, uint seq, int index, int netnsFd)
    {
        var w = LinkRequest(buffer, seq, index);
        w.WriteAttribute(IFLA_NET_NS_FD, (uint)netnsFd);
        return w.EndMessage();
    }

    /// <summary>`ip link set dev X name Y` (many kernels refuse while the link is up: EBUSY).</summary>
    public static int SetLinkName(Span<byte> buffer, uint seq, int index, string name)
    {
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes is 0 or >= IFNAMSIZ || name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"rename link {index}: invalid interface name '{name}'");
        }
        var w = LinkRequest(buffer, seq, index);
        w.WriteAttribute(IFLA_IFNAME, name);
        return w.EndMessage();
    }

    /// <summary>
    /// `ip addr add A/N dev X` (IPv6: `… nodad`, so the address is usable at once rather than
    /// tentative for the DAD period): RTM_NEWADDR with IFA_LOCAL and IFA_ADDRESS.
    /// </summary>
    public static int AddAddress(Span<byte> buffer, uint seq, int index, IPAddress address, int prefixLength)
    {
        byte family = FamilyOf(address.AddressFamily, "add address");
        CheckPrefix(family, prefixLength, "add address");
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWADDR, CreateFlags, seq);
        w.Write(new ifaddrmsg
        {
            ifa_family = family,
            ifa_prefixlen = (byte)prefixLength,
            ifa_flags = family == AF_INET6 ? (byte)IFA_F_NODAD : (byte)0,
            ifa_scope = RT_SCOPE_UNIVERSE,
            ifa_index = (uint)index,
        });
        WriteAddress(ref w, IFA_LOCAL, address);
        WriteAddress(ref w, IFA_ADDRESS, address);
        if (family == AF_INET && prefixLength <= 30)
        {
            // `brd +`, as Docker and CNI give their veths: the subnet's all-ones address.
            byte[] broadcast = address.GetAddressBytes();
            uint host = prefixLength == 0 ? uint.MaxValue : uint.MaxValue >> prefixLength;
            for (int i = 0; i < 4; i++)
            {
                broadcast[i] |= (byte)(host >> (24 - (8 * i)));
            }
            WriteAddress(ref w, IFA_BROADCAST, new IPAddress(broadcast));
        }
        return w.EndMessage();
    }

    /// <summary>
    /// `ip route add`: RTM_NEWROUTE, NLM_F_CREATE|NLM_F_EXCL. Attributes in iproute2's order:
    /// RTA_DST (unless default), RTA_PREFSRC, RTA_GATEWAY, RTA_PRIORITY, RTA_OIF.
    /// </summary>
    public static int AddRoute(Span<byte> buffer, uint seq, NetRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        byte family = FamilyOf(route.Family, "add route");
        CheckPrefix(family, route.PrefixLength, "add route");
        if (route.Destination is null && route.PrefixLength != 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"add route: prefix length {route.PrefixLength} without a destination");
        }
        foreach (IPAddress? a in (ReadOnlySpan<IPAddress?>)[route.Destination, route.Gateway, route.PreferredSource])
        {
            if (a is not null && a.AddressFamily != route.Family)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"add route: {a} is not of family {route.Family}");
            }
        }
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWROUTE, CreateFlags, seq);
        w.Write(new rtmsg
        {
            rtm_family = family,
            rtm_dst_len = (byte)route.PrefixLength,
            // rtnetlink.h: tables past 255 go in RTA_TABLE only.
            rtm_table = route.Table < 256 ? (byte)route.Table : (byte)RT_TABLE_UNSPEC,
            rtm_protocol = route.Protocol,
            rtm_scope = route.Scope,
            rtm_type = route.Type,
        });
        if (route.Destination is not null)
        {
            WriteAddress(ref w, RTA_DST, route.Destination);
        }
        if (route.PreferredSource is not null)
        {
            WriteAddress(ref w, RTA_PREFSRC, route.PreferredSource);
        }
        if (route.Gateway is not null)
        {
            WriteAddress(ref w, RTA_GATEWAY, route.Gateway);
        }
        if (route.Priority != 0)
        {
            w.WriteAttribute(RTA_PRIORITY, route.Priority);
        }
        if (route.Table >= 256)
        {
            w.WriteAttribute(RTA_TABLE, route.Table);
        }
        if (route.OutputLinkIndex != 0)
        {
            w.WriteAttribute(RTA_OIF, (uint)route.OutputLinkIndex);
        }
        return w.EndMessage();
    }

    /// <summary>
    /// `tc qdisc add|del dev X ingress` (<paramref name="type"/> RTM_NEWQDISC or RTM_DELQDISC):
    /// handle ffff:, parent TC_H_INGRESS, TCA_KIND "ingress".
    /// </summary>
    public static int IngressQdisc(Span<byte> buffer, uint seq, ushort type, int index)
    {
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(type, type == RTM_NEWQDISC ? CreateFlags : SetFlags, seq);
        w.Write(new tcmsg { tcm_family = AF_UNSPEC, tcm_ifindex = index, tcm_handle = INGRESS_HANDLE, tcm_parent = TC_H_INGRESS });
        w.WriteAttribute(TCA_KIND, "ingress");
        return w.EndMessage();
    }

    /// <summary>
    /// `tc filter add dev FROM parent ffff: protocol all u32 match u8 0 0 action mirred egress
    /// redirect dev TO`: a match-all u32 filter on FROM's ingress whose one action, mirred,
    /// redirects every frame to TO's egress and steals it (Kata's tap/veth mirroring).
    /// </summary>
    public static int MirredRedirect(Span<byte> buffer, uint seq, int fromIndex, int toIndex) =>
        // "match u8 0 0 at 0": one key, mask 0 value 0, so every frame matches.
        Mirred(buffer, seq, fromIndex, toIndex, 0, ETH_P_ALL, TCA_EGRESS_REDIR, TC_ACT_STOLEN, [default]);

    /// <summary>
    /// A terminal u32 filter on <paramref name="fromIndex"/>'s ingress (priority
    /// <paramref name="prio"/>, 0 = the kernel's choice) for frames of <paramref name="ethProtocol"/>
    /// matching every key, whose mirred action sends them (<paramref name="egressAction"/>:
    /// redirect, or mirror a copy) to <paramref name="toIndex"/>'s egress and then gives
    /// <paramref name="verdict"/> (TC_ACT_STOLEN: consumed; TC_ACT_OK: the original goes on to the
    /// interface's own stack).
    /// </summary>
    public static int Mirred(Span<byte> buffer, uint seq, int fromIndex, int toIndex, ushort prio, ushort ethProtocol, int egressAction, int verdict, ReadOnlySpan<tc_u32_key> keys)
    {
        var w = BeginU32Filter(buffer, seq, fromIndex, prio, ethProtocol, keys, out int options);
        int actions = w.BeginNested(TCA_U32_ACT);
        int first = w.BeginNested(1); // actions are numbered from 1 (TCA_ACT_MAX_PRIO slots)
        w.WriteAttribute(TCA_ACT_KIND, "mirred");
        int actionOptions = w.BeginNested(TCA_ACT_OPTIONS | NLA_F_NESTED);
        w.WriteAttribute(TCA_MIRRED_PARMS, new tc_mirred { action = verdict, eaction = egressAction, ifindex = (uint)toIndex });
        w.EndNested(actionOptions);
        w.EndNested(first);
        w.EndNested(actions);
        return EndU32Filter(ref w, keys, options);
    }

    /// <summary>
    /// A u32 filter at priority <paramref name="prio"/> on <paramref name="index"/>'s ingress for
    /// frames of <paramref name="ethProtocol"/> matching every key, which passes them on to the
    /// interface's own stack (TC_ACT_OK) before any lower-priority filter sees them:
    /// `tc filter add dev X parent ffff: prio P protocol ip u32 match … flowid 1:1`. Key masks
    /// and values are in network byte order, offsets from the network header.
    /// </summary>
    public static int U32Pass(Span<byte> buffer, uint seq, int index, ushort prio, ushort ethProtocol, ReadOnlySpan<tc_u32_key> keys)
    {
        var w = BeginU32Filter(buffer, seq, index, prio, ethProtocol, keys, out int options);
        // No action (hosts may lack act_gact): a terminal match with a class and no action ends
        // classification with TC_ACT_OK, so the frame goes on to the interface's own stack.
        w.WriteAttribute(TCA_U32_CLASSID, 0x00010001u);
        return EndU32Filter(ref w, keys, options);
    }

    /// <summary>RTM_NEWTFILTER on <paramref name="index"/>'s ingress, kind u32, up to its open TCA_OPTIONS; the caller adds its actions or class.</summary>
    private static NetlinkWriter BeginU32Filter(Span<byte> buffer, uint seq, int index, ushort prio, ushort ethProtocol, ReadOnlySpan<tc_u32_key> keys, out int options)
    {
        if (keys.Length is 0 or > 8)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"u32 filter: {keys.Length} keys (1 to 8)");
        }
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWTFILTER, CreateFlags, seq);
        w.Write(new tcmsg
        {
            tcm_family = AF_UNSPEC,
            tcm_ifindex = index,
            tcm_parent = INGRESS_HANDLE,
            // TC_H_MAKE(prio << 16, htons(protocol)); prio 0 lets the kernel pick (49152).
            tcm_info = ((uint)prio << 16) | BinaryPrimitives.ReverseEndianness(ethProtocol),
        });
        w.WriteAttribute(TCA_KIND, "u32");
        options = w.BeginNested(TCA_OPTIONS);
        return w;
    }

    /// <summary>The terminal selector with <paramref name="keys"/>, then closes TCA_OPTIONS and the message.</summary>
    private static int EndU32Filter(ref NetlinkWriter w, ReadOnlySpan<tc_u32_key> keys, int options)
    {
        int selector = w.BeginNested(TCA_U32_SEL);
        w.Write(new tc_u32_sel { flags = TC_U32_TERMINAL, nkeys = (byte)keys.Length });
        foreach (tc_u32_key key in keys)
        {
            w.Write(key);
        }
        w.EndNested(selector);
        w.EndNested(options);
        return w.EndMessage();
    }

    private static NetlinkWriter LinkRequest(Span<byte> buffer, uint seq, int index)
    {
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWLINK, SetFlags, seq);
        w.Write(new ifinfomsg { ifi_family = AF_UNSPEC, ifi_index = index });
        return w;
    }

    private static void WriteAddress(ref NetlinkWriter w, ushort type, IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"address {address} does not fit");
        }
        w.WriteAttribute(type, bytes[..written]);
    }

    private static byte FamilyOf(AddressFamily family, string what) => family switch
    {
        AddressFamily.InterNetwork => AF_INET,
        AddressFamily.InterNetworkV6 => AF_INET6,
        _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"{what}: family {family} is neither IPv4 nor IPv6"),
    };

    private static void CheckPrefix(byte family, int prefixLength, string what)
    {
        if (prefixLength < 0 || prefixLength > (family == AF_INET ? 32 : 128))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"{what}: prefix length {prefixLength} out of range");
        }
    }
}
