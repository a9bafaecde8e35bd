using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop.Netlink;
using Xunit;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Tests.Unit.Interop.Netlink;

/// <summary>
/// Each request against the bytes iproute2 sends for the same command, captured with
/// `strace -e trace=sendmsg -e write=3 ip netns exec N ip …` (iproute2 6.x, kernel 6.18) in a
/// namespace whose link 3 is a veth (renamed eth0 on the way) and link 4 a tap. The sequence
/// number is the capture's.
/// </summary>
public sealed class NetlinkRequestTests
{
    private delegate int Encode(Span<byte> buffer, uint seq);

    private static void AssertEncodes(string capturedHex, Encode encode)
    {
        byte[] expected = Convert.FromHexString(capturedHex);
        uint seq = BinaryPrimitives.ReadUInt32LittleEndian(expected.AsSpan(8));
        byte[] buffer = new byte[1024];
        buffer.AsSpan().Fill(0xAA); // padding must be written as zeros, not left over
        int length = encode(buffer, seq);
        Assert.Equal(capturedHex, Convert.ToHexStringLower(buffer, 0, length));
    }

    [Fact]
    public void Link_mtu_is_what_ip_link_set_mtu_sends() =>
        AssertEncodes("28000000100005004ee7136b00000000000000000300000000000000000000000800040078050000", (b, s) => NetlinkRequests.SetLinkMtu(b, s, 3, 1400));

    [Fact]
    public void Link_up_and_down_are_what_ip_link_set_sends()
    {
        AssertEncodes("20000000100005004ee7136b0000000000000000030000000100000001000000", (b, s) => NetlinkRequests.SetLinkUp(b, s, 3, true));
        AssertEncodes("20000000100005004ee7136b0000000000000000030000000000000001000000", (b, s) => NetlinkRequests.SetLinkUp(b, s, 3, false));
    }

    [Fact]
    public void Link_address_is_what_ip_link_set_address_sends() =>
        AssertEncodes("2c000000100005004fe7136b00000000000000000300000000000000000000000a0001000200000000010000", (b, s) => NetlinkRequests.SetLinkMac(b, s, 3, [0x02, 0, 0, 0, 0, 0x01]));

    [Fact]
    public void Link_name_is_what_ip_link_set_name_sends() =>
        AssertEncodes("2c000000100005004fe7136b0000000000000000030000000000000000000000090003006574683000000000", (b, s) => NetlinkRequests.SetLinkName(b, s, 3, "eth0"));

    [Fact]
    public void Ipv4_address_is_what_ip_addr_add_brd_plus_sends() =>
        AssertEncodes("30000000140005064fe7136b000000000218000003000000080002000a010203080001000a010203080004000a0102ff", (b, s) => NetlinkRequests.AddAddress(b, s, 3, IPAddress.Parse("10.1.2.3"), 24));

    [Fact]
    public void Ipv6_address_is_what_ip_addr_add_nodad_sends() =>
        AssertEncodes("40000000140005064fe7136b000000000a4002000300000014000200fd00000000000000000000000000000214000100fd000000000000000000000000000002", (b, s) => NetlinkRequests.AddAddress(b, s, 3, IPAddress.Parse("fd00::2"), 64));

    [Fact]
    public void Ipv4_default_route_is_what_ip_route_add_default_via_sends() =>
        AssertEncodes("2c000000180005064fe7136b0000000002000000fe03000100000000080005000a0102010800040003000000", (b, s) => NetlinkRequests.AddRoute(b, s, new NetRoute
        {
            Family = AddressFamily.InterNetwork,
            Gateway = IPAddress.Parse("10.1.2.1"),
            OutputLinkIndex = 3,
        }));

    [Fact]
    public void Ipv6_default_route_is_what_ip_6_route_add_default_via_sends() =>
        // ip -6 spells "default" as RTA_DST ::, prefix 0; a null Destination leaves RTA_DST out.
        AssertEncodes("4c000000180005064fe7136b000000000a000000fe03000100000000140001000000000000000000000000000000000014000500fd0000000000000000000000000000010800040003000000", (b, s) => NetlinkRequests.AddRoute(b, s, new NetRoute
        {
            Family = AddressFamily.InterNetworkV6,
            Destination = IPAddress.IPv6Any,
            Gateway = IPAddress.Parse("fd00::1"),
            OutputLinkIndex = 3,
        }));

    [Fact]
    public void A_default_route_without_destination_has_no_rta_dst()
    {
        byte[] buffer = new byte[256];
        int length = NetlinkRequests.AddRoute(buffer, 1, new NetRoute { Family = AddressFamily.InterNetworkV6, Gateway = IPAddress.Parse("fd00::1"), OutputLinkIndex = 3 });
        Assert.Equal(16 + 12 + 20 + 8, length);
    }

    [Fact]
    public void On_link_route_is_what_ip_route_add_dev_scope_link_sends() =>
        AssertEncodes("2c0000001800050650e7136b0000000002100000fe03fd0100000000080001000a0900000800040003000000", (b, s) => NetlinkRequests.AddRoute(b, s, new NetRoute
        {
            Family = AddressFamily.InterNetwork,
            Destination = IPAddress.Parse("10.9.0.0"),
            PrefixLength = 16,
            OutputLinkIndex = 3,
            Scope = RT_SCOPE_LINK,
        }));

    [Fact]
    public void Ingress_qdisc_add_and_delete_are_what_tc_qdisc_sends()
    {
        AssertEncodes("300000002400050651e7136b0000000000000000040000000000fffff1ffffff000000000c000100696e677265737300", (b, s) => NetlinkRequests.IngressQdisc(b, s, RTM_NEWQDISC, 4));
        AssertEncodes("300000002500050051e7136b0000000000000000040000000000fffff1ffffff000000000c000100696e677265737300", (b, s) => NetlinkRequests.IngressQdisc(b, s, RTM_DELQDISC, 4));
    }

    [Fact]
    public void Mirred_redirect_is_what_tc_filter_add_u32_mirred_sends() =>
        // tc filter add dev tap0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev eth0
        AssertEncodes(
            "8c0000002c00050651e7136b000000000000000004000000000000000000ffff00030000" // nlmsghdr, tcmsg (parent ffff:, info htons(ETH_P_ALL))
            + "0800010075333200" // TCA_KIND "u32"
            + "60000200" // TCA_OPTIONS {
            + "38000700340001000b0001006d69727265640000" // TCA_U32_ACT { [1] { TCA_ACT_KIND "mirred"
            + "2400028020000200" // TCA_ACT_OPTIONS|NLA_F_NESTED { TCA_MIRRED_PARMS
            + "00000000000000000400000000000000000000000100000003000000" // tc_mirred: action STOLEN, eaction EGRESS_REDIR, ifindex 3 } } }
            + "240005000100010000000000000000000000000000000000000000000000000000000000", // TCA_U32_SEL: flags TERMINAL, nkeys 1, one key of zeros }
            (b, s) => NetlinkRequests.MirredRedirect(b, s, 4, 3));

    [Fact]
    public void Dump_requests_carry_the_dump_flags_and_an_unspec_header()
    {
        byte[] buffer = new byte[64];
        Assert.Equal("2000000012000103070000000000000000000000000000000000000000000000", Convert.ToHexStringLower(buffer, 0, NetlinkRequests.GetLinks(buffer, 7)));
        Assert.Equal("180000001600010307000000000000000000000000000000", Convert.ToHexStringLower(buffer, 0, NetlinkRequests.GetAddresses(buffer, 7)));
        Assert.Equal("1c0000001a0001030700000000000000" + "000000000000000000000000", Convert.ToHexStringLower(buffer, 0, NetlinkRequests.GetRoutes(buffer, 7)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a-name-too-long!")]
    [InlineData("has space")]
    [InlineData("a/b")]
    public void Invalid_link_names_are_refused(string name)
    {
        var e = Assert.Throws<VmSandboxException>(() => NetlinkRequests.SetLinkName(new byte[256], 1, 3, name));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public void A_fifteen_byte_name_is_the_longest_accepted() =>
        Assert.True(NetlinkRequests.SetLinkName(new byte[256], 1, 3, "abcdefghijklmno") > 0);

    [Theory]
    [InlineData("10.0.0.0", 33)]
    [InlineData("fd00::", 129)]
    [InlineData("10.0.0.0", -1)]
    public void Out_of_range_prefixes_are_refused(string address, int prefix)
    {
        Assert.Throws<VmSandboxException>(() => NetlinkRequests.AddAddress(new byte[256], 1, 3, IPAddress.Parse(address), prefix));
        Assert.Throws<VmSandboxException>(() => NetlinkRequests.AddRoute(new byte[256], 1, new NetRoute { Family = IPAddress.Parse(address).AddressFamily, Destination = IPAddress.Parse(address), PrefixLength = prefix }));
    }

    [Fact]
    public void A_route_mixing_families_is_refused() =>
        Assert.Throws<VmSandboxException>(() => NetlinkRequests.AddRoute(new byte[256], 1, new NetRoute { Family = AddressFamily.InterNetwork, Gateway = IPAddress.Parse("fd00::1") }));

    [Fact]
    public void A_request_larger_than_its_buffer_throws_instead_of_writing_past_it()
    {
        byte[] buffer = new byte[40];
        Assert.Throws<VmSandboxException>(() => NetlinkRequests.AddAddress(buffer.AsSpan(0, 30), 1, 3, IPAddress.Parse("10.0.0.1"), 8));
    }

    [Fact]
    public void Tables_past_255_go_in_rta_table()
    {
        byte[] buffer = new byte[256];
        int length = NetlinkRequests.AddRoute(buffer, 1, new NetRoute { Family = AddressFamily.InterNetwork, OutputLinkIndex = 2, Table = 1000 });
        Assert.Equal(RT_TABLE_UNSPEC, buffer[16 + 4]);
        Assert.Equal("08000f00e8030000", Convert.ToHexStringLower(buffer, length - 16, 8));
    }
}
