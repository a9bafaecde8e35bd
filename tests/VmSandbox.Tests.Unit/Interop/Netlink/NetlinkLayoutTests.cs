using System.Runtime.InteropServices;
using VmSandbox.Interop;
using VmSandbox.Interop.Netlink;
using Xunit;

namespace VmSandbox.Tests.Unit.Interop.Netlink;

/// <summary>The netlink structs against the kernel's sizes and offsets (include/uapi/linux/*.h).</summary>
public sealed class NetlinkLayoutTests
{
    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public unsafe void Sizes_match_the_kernel_headers()
    {
        Assert.Equal(16, sizeof(nlmsghdr));
        Assert.Equal(20, sizeof(nlmsgerr));
        Assert.Equal(4, sizeof(rtattr));
        Assert.Equal(16, sizeof(ifinfomsg));
        Assert.Equal(8, sizeof(ifaddrmsg));
        Assert.Equal(12, sizeof(rtmsg));
        Assert.Equal(20, sizeof(tcmsg));
        Assert.Equal(16, sizeof(tc_u32_sel));
        Assert.Equal(16, sizeof(tc_u32_key));
        Assert.Equal(28, sizeof(tc_mirred));
        Assert.Equal(12, sizeof(NetlinkSocket.sockaddr_nl));
    }

    [Fact]
    public void Offsets_match_the_kernel_headers()
    {
        Assert.Equal(4, Offset<nlmsghdr>(nameof(nlmsghdr.nlmsg_type)));
        Assert.Equal(6, Offset<nlmsghdr>(nameof(nlmsghdr.nlmsg_flags)));
        Assert.Equal(8, Offset<nlmsghdr>(nameof(nlmsghdr.nlmsg_seq)));
        Assert.Equal(12, Offset<nlmsghdr>(nameof(nlmsghdr.nlmsg_pid)));
        Assert.Equal(4, Offset<nlmsgerr>(nameof(nlmsgerr.msg)));
        Assert.Equal(2, Offset<ifinfomsg>(nameof(ifinfomsg.ifi_type)));
        Assert.Equal(4, Offset<ifinfomsg>(nameof(ifinfomsg.ifi_index)));
        Assert.Equal(8, Offset<ifinfomsg>(nameof(ifinfomsg.ifi_flags)));
        Assert.Equal(12, Offset<ifinfomsg>(nameof(ifinfomsg.ifi_change)));
        Assert.Equal(3, Offset<ifaddrmsg>(nameof(ifaddrmsg.ifa_scope)));
        Assert.Equal(4, Offset<ifaddrmsg>(nameof(ifaddrmsg.ifa_index)));
        Assert.Equal(4, Offset<rtmsg>(nameof(rtmsg.rtm_table)));
        Assert.Equal(7, Offset<rtmsg>(nameof(rtmsg.rtm_type)));
        Assert.Equal(8, Offset<rtmsg>(nameof(rtmsg.rtm_flags)));
        Assert.Equal(4, Offset<tcmsg>(nameof(tcmsg.tcm_ifindex)));
        Assert.Equal(8, Offset<tcmsg>(nameof(tcmsg.tcm_handle)));
        Assert.Equal(12, Offset<tcmsg>(nameof(tcmsg.tcm_parent)));
        Assert.Equal(16, Offset<tcmsg>(nameof(tcmsg.tcm_info)));
        Assert.Equal(2, Offset<tc_u32_sel>(nameof(tc_u32_sel.nkeys)));
        Assert.Equal(4, Offset<tc_u32_sel>(nameof(tc_u32_sel.offmask)));
        Assert.Equal(6, Offset<tc_u32_sel>(nameof(tc_u32_sel.off)));
        Assert.Equal(8, Offset<tc_u32_sel>(nameof(tc_u32_sel.offoff)));
        Assert.Equal(10, Offset<tc_u32_sel>(nameof(tc_u32_sel.hoff)));
        Assert.Equal(12, Offset<tc_u32_sel>(nameof(tc_u32_sel.hmask)));
        Assert.Equal(8, Offset<tc_u32_key>(nameof(tc_u32_key.off)));
        Assert.Equal(12, Offset<tc_u32_key>(nameof(tc_u32_key.offmask)));
        Assert.Equal(8, Offset<tc_mirred>(nameof(tc_mirred.action)));
        Assert.Equal(20, Offset<tc_mirred>(nameof(tc_mirred.eaction)));
        Assert.Equal(24, Offset<tc_mirred>(nameof(tc_mirred.ifindex)));
        Assert.Equal(4, Offset<NetlinkSocket.sockaddr_nl>(nameof(NetlinkSocket.sockaddr_nl.nl_pid)));
        Assert.Equal(8, Offset<NetlinkSocket.sockaddr_nl>(nameof(NetlinkSocket.sockaddr_nl.nl_groups)));
    }
}
