using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/netlink.h struct nlmsghdr (16 bytes), in host byte order.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name, all lower case
public struct nlmsghdr
#pragma warning restore CS8981
{
    public uint nlmsg_len;
    public ushort nlmsg_type;
    public ushort nlmsg_flags;
    public uint nlmsg_seq;
    public uint nlmsg_pid;
}
