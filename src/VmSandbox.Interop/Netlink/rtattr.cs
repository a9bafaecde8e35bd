using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/rtnetlink.h struct rtattr (4 bytes), the same layout as struct nlattr.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name, all lower case
public struct rtattr
#pragma warning restore CS8981
{
    public ushort rta_len;
    public ushort rta_type;
}
