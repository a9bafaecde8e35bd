using System.Net;
using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop.Netlink;
using Xunit;
using static VmSandbox.Interop.Netlink.NetlinkConstants;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Tests.Unit.Interop.Netlink;

/// <summary>
/// Dump replies, ACKs and errors as the kernel frames them, built here with
/// <see cref="NetlinkWriter"/>; then cut, corrupted and random input, which must only ever
/// raise the project's exception (the host parses what a container's namespace holds).
/// </summary>
public sealed class NetlinkReplyTests
{
    private const uint Seq = 77;

    private static byte[] Datagram(params byte[][] messages) => [.. messages.SelectMany(m => m)];

    private static byte[] LinkMessage(int index, string name, byte[]? mac, uint mtu, uint flags, string? kind, uint seq = Seq)
    {
        byte[] buffer = new byte[512];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWLINK, NLM_F_MULTI, seq);
        w.Write(new ifinfomsg { ifi_type = ARPHRD_ETHER, ifi_index = index, ifi_flags = flags });
        w.WriteAttribute(IFLA_IFNAME, name);
        if (mac is not null)
        {
            w.WriteAttribute(IFLA_ADDRESS, mac);
        }
        w.WriteAttribute(IFLA_MTU, mtu);
        if (kind is not null)
        {
            int info = w.BeginNested(IFLA_LINKINFO);
            w.WriteAttribute(IFLA_INFO_KIND, kind);
            int data = w.BeginNested(IFLA_INFO_DATA);
            w.EndNested(data);
            w.EndNested(info);
        }
        return buffer[..w.EndMessage()];
    }

    private static byte[] AddressMessage(byte family, int index, byte prefix, string? local, string? address, uint? ifaFlags = null)
    {
        byte[] buffer = new byte[256];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWADDR, NLM_F_MULTI, Seq);
        w.Write(new ifaddrmsg { ifa_family = family, ifa_prefixlen = prefix, ifa_flags = 0x80, ifa_scope = RT_SCOPE_UNIVERSE, ifa_index = (uint)index });
        if (address is not null)
        {
            w.WriteAttribute(IFA_ADDRESS, IPAddress.Parse(address).GetAddressBytes());
        }
        if (local is not null)
        {
            w.WriteAttribute(IFA_LOCAL, IPAddress.Parse(local).GetAddressBytes());
        }
        if (ifaFlags is uint f)
        {
            w.WriteAttribute(IFA_FLAGS, f);
        }
        return buffer[..w.EndMessage()];
    }

    private static byte[] RouteMessage(byte family, byte table, byte dstLen, string? dst, string? gateway, int oif, uint? rtaTable = null, uint? priority = null)
    {
        byte[] buffer = new byte[256];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(RTM_NEWROUTE, NLM_F_MULTI, Seq);
        w.Write(new rtmsg { rtm_family = family, rtm_dst_len = dstLen, rtm_table = table, rtm_protocol = RTPROT_BOOT, rtm_scope = gateway is null ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE, rtm_type = RTN_UNICAST });
        w.WriteAttribute(RTA_TABLE, rtaTable ?? table);
        if (dst is not null)
        {
            w.WriteAttribute(RTA_DST, IPAddress.Parse(dst).GetAddressBytes());
        }
        if (priority is uint p)
        {
            w.WriteAttribute(RTA_PRIORITY, p);
        }
        if (gateway is not null)
        {
            w.WriteAttribute(RTA_GATEWAY, IPAddress.Parse(gateway).GetAddressBytes());
        }
        w.WriteAttribute(RTA_OIF, (uint)oif);
        return buffer[..w.EndMessage()];
    }

    private static byte[] Done(uint seq = Seq, int status = 0)
    {
        byte[] buffer = new byte[32];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(NLMSG_DONE, NLM_F_MULTI, seq);
        w.Write(status);
        return buffer[..w.EndMessage()];
    }

    private static byte[] Error(int errno, uint seq = Seq, string? extack = null)
    {
        byte[] buffer = new byte[256];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(NLMSG_ERROR, (ushort)(NLM_F_CAPPED | (extack is null ? 0 : NLM_F_ACK_TLVS)), seq);
        w.Write(new nlmsgerr { error = -errno, msg = new nlmsghdr { nlmsg_len = 40, nlmsg_type = RTM_NEWROUTE, nlmsg_flags = 0x605, nlmsg_seq = seq } });
        if (extack is not null)
        {
            w.WriteAttribute(NLMSGERR_ATTR_MSG, extack);
        }
        return buffer[..w.EndMessage()];
    }

    private static List<T> ReadDump<T>(NetlinkDecode<T> decode, ushort type, params byte[][] datagrams)
        where T : class
    {
        var into = new List<T>();
        bool interrupted = false;
        for (int i = 0; i < datagrams.Length; i++)
        {
            bool done = NetlinkReplies.ReadDumpPart(datagrams[i], Seq, type, decode, into, "RTM_GETX", ref interrupted);
            Assert.Equal(i == datagrams.Length - 1, done);
        }
        return into;
    }

    [Fact]
    public void A_multi_part_link_dump_is_read_to_nlmsg_done()
    {
        byte[] first = Datagram(
            LinkMessage(1, "lo", [0, 0, 0, 0, 0, 0], 65536, IFF_UP | IFF_LOOPBACK, null),
            LinkMessage(2, "eth0", [0x02, 0x42, 0xac, 0x11, 0, 0x02], 1500, IFF_UP | IFF_BROADCAST, "veth"));
        byte[] second = Datagram(LinkMessage(3, "tap0", [0xfa, 0xde, 2, 3, 4, 5], 9000, 0, "tun"), Done());

        List<NetLink> links = ReadDump(NetlinkDecoder.DecodeLink, RTM_NEWLINK, first, second);

        Assert.Equal(["lo", "eth0", "tap0"], links.Select(l => l.Name));
        NetLink eth0 = links[1];
        Assert.Equal(2, eth0.Index);
        Assert.Equal("02:42:ac:11:00:02", eth0.MacString);
        Assert.Equal(1500, eth0.Mtu);
        Assert.True(eth0.IsUp);
        Assert.Equal("veth", eth0.Kind);
        Assert.Equal(ARPHRD_ETHER, eth0.LinkType);
        Assert.Null(links[0].Kind);
        Assert.False(links[2].IsUp);
        Assert.Equal("tun", links[2].Kind);
    }

    [Fact]
    public void Messages_of_another_sequence_are_skipped()
    {
        byte[] stale = Datagram(LinkMessage(9, "old", null, 1500, 0, null, seq: Seq - 1), Done(Seq - 1));
        var into = new List<NetLink>();
        bool interrupted = false;
        Assert.False(NetlinkReplies.ReadDumpPart(stale, Seq, RTM_NEWLINK, NetlinkDecoder.DecodeLink, into, "RTM_GETLINK", ref interrupted));
        Assert.Empty(into);
    }

    [Fact]
    public void A_link_without_address_has_no_mac() =>
        Assert.Null(ReadDump(NetlinkDecoder.DecodeLink, RTM_NEWLINK, Datagram(LinkMessage(5, "wg0", null, 1420, 0, "wireguard"), Done()))[0].Mac);

    [Fact]
    public void Addresses_prefer_ifa_local_and_ifa_flags()
    {
        List<NetAddress> addresses = ReadDump(NetlinkDecoder.DecodeAddress, RTM_NEWADDR, Datagram(
            AddressMessage(AF_INET, 2, 24, local: "172.17.0.2", address: "172.17.0.2"),
            AddressMessage(AF_INET, 3, 32, local: "10.0.0.1", address: "10.0.0.2"), // point-to-point: IFA_ADDRESS is the peer
            AddressMessage(AF_INET6, 2, 64, local: null, address: "fd00::2", ifaFlags: IFA_F_NODAD | IFA_F_PERMANENT),
            AddressMessage(17, 2, 0, null, null), // AF_PACKET: skipped
            Done()));

        Assert.Equal(3, addresses.Count);
        Assert.Equal(new NetAddress(2, AddressFamily.InterNetwork, IPAddress.Parse("172.17.0.2"), 24, RT_SCOPE_UNIVERSE, 0x80), addresses[0]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), addresses[1].Address);
        Assert.Equal(AddressFamily.InterNetworkV6, addresses[2].Family);
        Assert.Equal(IPAddress.Parse("fd00::2"), addresses[2].Address);
        Assert.Equal(IFA_F_NODAD | IFA_F_PERMANENT, addresses[2].Flags);
    }

    [Fact]
    public void Routes_of_the_main_table_only_are_kept()
    {
        List<NetRoute> routes = ReadDump(NetlinkDecoder.DecodeRoute, RTM_NEWROUTE, Datagram(
            RouteMessage(AF_INET, 254, 0, null, "172.17.0.1", 2),
            RouteMessage(AF_INET, 254, 16, "172.17.0.0", null, 2),
            RouteMessage(AF_INET, 255, 32, "172.17.0.2", null, 2), // local table
            RouteMessage(AF_INET6, 254, 0, "::", "fd00::1", 2, priority: 1024),
            RouteMessage(AF_INET, 0, 0, null, "10.0.0.1", 2, rtaTable: 1000), // table 1000
            Done()));

        Assert.Equal(3, routes.Count);
        Assert.True(routes[0].IsDefault);
        Assert.Null(routes[0].Destination);
        Assert.Equal(IPAddress.Parse("172.17.0.1"), routes[0].Gateway);
        Assert.Equal(2, routes[0].OutputLinkIndex);
        Assert.Equal(IPAddress.Parse("172.17.0.0"), routes[1].Destination);
        Assert.Equal(16, routes[1].PrefixLength);
        Assert.Equal(RT_SCOPE_LINK, routes[1].Scope);
        Assert.Null(routes[1].Gateway);
        Assert.Null(routes[2].Destination);
        Assert.Equal(1024u, routes[2].Priority);
        Assert.Equal(AddressFamily.InterNetworkV6, routes[2].Family);
    }

    [Fact]
    public void An_nlmsg_error_ends_a_dump_with_the_call_and_errno()
    {
        var into = new List<NetLink>();
        bool interrupted = false;
        var e = Assert.Throws<VmSandboxException>(() => NetlinkReplies.ReadDumpPart(Error(1), Seq, RTM_NEWLINK, NetlinkDecoder.DecodeLink, into, "RTM_GETLINK", ref interrupted));
        Assert.Equal(1, e.Errno);
        Assert.Equal("RTM_GETLINK dump: operation not permitted (errno 1)", e.Message);
    }

    [Fact]
    public void A_negative_status_in_nlmsg_done_is_an_error()
    {
        var into = new List<NetLink>();
        bool interrupted = false;
        var e = Assert.Throws<VmSandboxException>(() => NetlinkReplies.ReadDumpPart(Done(status: -4), Seq, RTM_NEWLINK, NetlinkDecoder.DecodeLink, into, "RTM_GETLINK", ref interrupted));
        Assert.Equal(4, e.Errno);
    }

    [Fact]
    public void Dump_intr_is_reported()
    {
        byte[] m = LinkMessage(1, "lo", null, 65536, 0, null);
        m[6] |= (byte)NLM_F_DUMP_INTR;
        var into = new List<NetLink>();
        bool interrupted = false;
        NetlinkReplies.ReadDumpPart(Datagram(m, Done()), Seq, RTM_NEWLINK, NetlinkDecoder.DecodeLink, into, "RTM_GETLINK", ref interrupted);
        Assert.True(interrupted);
    }

    [Fact]
    public void An_ack_is_error_zero()
    {
        Assert.True(NetlinkReplies.ReadAck(Error(0), Seq, "RTM_NEWLINK", "link 2 up"));
        Assert.False(NetlinkReplies.ReadAck(Error(0, seq: Seq + 1), Seq, "RTM_NEWLINK", "link 2 up"));
    }

    [Fact]
    public void An_error_names_the_request_errno_and_the_kernels_extended_ack()
    {
        var e = Assert.Throws<VmSandboxException>(() => NetlinkReplies.ReadAck(Error(17, extack: "File exists"), Seq, "RTM_NEWROUTE", "default via 10.0.0.1 dev 2"));
        Assert.Equal(ErrorCode.System, e.Code);
        Assert.Equal(17, e.Errno);
        Assert.Equal("RTM_NEWROUTE default via 10.0.0.1 dev 2: file exists (errno 17): File exists", e.Message);
    }

    [Fact]
    public void An_uncapped_error_skips_the_echoed_request_before_its_tlvs()
    {
        byte[] buffer = new byte[256];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage(NLMSG_ERROR, NLM_F_ACK_TLVS, Seq);
        w.Write(new nlmsgerr { error = -22, msg = new nlmsghdr { nlmsg_len = 24, nlmsg_type = RTM_NEWLINK, nlmsg_seq = Seq } });
        w.Write(0xDEADBEEFCAFEF00DUL); // the request's 8 payload bytes, echoed
        w.WriteAttribute(NLMSGERR_ATTR_MSG, "bad mtu");
        byte[] datagram = buffer[..w.EndMessage()];
        var e = Assert.Throws<VmSandboxException>(() => NetlinkReplies.ReadAck(datagram, Seq, "RTM_NEWLINK", "link 2 mtu 0"));
        Assert.EndsWith("(errno 22): bad mtu", e.Message, StringComparison.Ordinal);
    }

    private const string IfInfo = "00000000010000000000000000000000"; // ifinfomsg of link 1

    public static TheoryData<string, string> MalformedDatagrams => new()
    {
        { "short header", "1000000010" },
        { "nlmsg_len below header", "0c000000100002004d00000000000000" },
        { "nlmsg_len past the end", "40000000100002004d00000000000000" + "00000000" },
        { "short ifinfomsg", "18000000100002004d00000000000000" + "0000000001000000" },
        { "rta_len below header", "24000000100002004d00000000000000" + IfInfo + "02000300" },
        { "rta_len past the end", "28000000100002004d00000000000000" + IfInfo + "3000030065746830" },
        { "short IFLA_MTU", "28000000100002004d00000000000000" + IfInfo + "0500040001000000" },
        { "no IFLA_IFNAME", "20000000100002004d00000000000000" + IfInfo },
        { "short nlmsgerr", "18000000020000004d00000000000000" + "f3ffffff00000000" },
        { "positive nlmsgerr", "24000000020000014d00000000000000" + "01000000" + "00000000000000000000000000000000" },
    };

    [Theory]
    [MemberData(nameof(MalformedDatagrams))]
    public void Malformed_replies_throw_the_projects_exception(string what, string hex)
    {
        byte[] datagram = Convert.FromHexString(hex);
        var e = Assert.Throws<VmSandboxException>(() =>
        {
            var into = new List<NetLink>();
            bool interrupted = false;
            NetlinkReplies.ReadDumpPart(datagram, Seq, RTM_NEWLINK, NetlinkDecoder.DecodeLink, into, "RTM_GETLINK", ref interrupted);
        });
        Assert.True(e.Code == ErrorCode.Protocol, $"{what}: {e.Message}");
    }

    [Theory]
    [InlineData(AF_INET, 33)]
    [InlineData(AF_INET6, 129)]
    public void Prefix_lengths_past_the_family_width_are_malformed(byte family, byte prefix) =>
        Assert.Throws<VmSandboxException>(() => ReadDump(NetlinkDecoder.DecodeAddress, RTM_NEWADDR, Datagram(AddressMessage(family, 2, prefix, null, family == AF_INET ? "10.0.0.1" : "fd00::1"), Done())));

    [Fact]
    public void An_address_of_the_wrong_width_is_malformed()
    {
        byte[] m = AddressMessage(AF_INET6, 2, 64, null, "10.0.0.1"); // 4 bytes for AF_INET6
        Assert.Throws<VmSandboxException>(() => ReadDump(NetlinkDecoder.DecodeAddress, RTM_NEWADDR, Datagram(m, Done())));
    }

    /// <summary>
    /// Property: every truncation and every single-byte corruption of a valid dump either decodes
    /// or throws VmSandboxException; nothing else (no IndexOutOfRange, no ArgumentOutOfRange).
    /// </summary>
    [Fact]
    public void Cut_and_corrupted_dumps_fail_only_with_the_projects_exception()
    {
        byte[] valid = Datagram(
            LinkMessage(2, "eth0", [2, 0x42, 0xac, 0x11, 0, 2], 1500, IFF_UP, "veth"),
            AddressMessage(AF_INET6, 2, 64, null, "fd00::2", IFA_F_NODAD),
            RouteMessage(AF_INET6, 254, 0, "::", "fd00::1", 2, priority: 1024),
            Done());
        var random = new Random(1234);
        for (int i = 0; i <= valid.Length; i++)
        {
            Survives(valid[..i]);
        }
        for (int i = 0; i < 20000; i++)
        {
            byte[] corrupt = (byte[])valid.Clone();
            int count = random.Next(1, 4);
            for (int k = 0; k < count; k++)
            {
                corrupt[random.Next(corrupt.Length)] = (byte)random.Next(256);
            }
            Survives(corrupt);
        }
        byte[] noise = new byte[256];
        for (int i = 0; i < 5000; i++)
        {
            random.NextBytes(noise);
            Survives(noise);
        }
    }

    private static void Survives(byte[] datagram)
    {
        bool interrupted = false;
        foreach (Action read in (Action[])[
            () => NetlinkReplies.ReadDumpPart(datagram, Seq, RTM_NEWLINK, NetlinkDecoder.DecodeLink, [], "RTM_GETLINK", ref interrupted),
            () => NetlinkReplies.ReadDumpPart(datagram, Seq, RTM_NEWADDR, NetlinkDecoder.DecodeAddress, [], "RTM_GETADDR", ref interrupted),
            () => NetlinkReplies.ReadDumpPart(datagram, Seq, RTM_NEWROUTE, NetlinkDecoder.DecodeRoute, [], "RTM_GETROUTE", ref interrupted),
            () => NetlinkReplies.ReadAck(datagram, Seq, "RTM_NEWLINK", "x"),
        ])
        {
            try
            {
                read();
            }
            catch (VmSandboxException)
            {
            }
        }
    }
}
