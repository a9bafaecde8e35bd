using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/netlink.h struct nlmsgerr (20 bytes): the NLMSG_ERROR payload; error 0 is an ACK.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name, all lower case
public struct nlmsgerr
#pragma warning restore CS8981
{
    public int error;
    public nlmsghdr msg;
}
