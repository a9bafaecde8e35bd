using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/rtnetlink.h struct ifinfomsg (16 bytes): the RTM_*LINK header.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name, all lower case
public struct ifinfomsg
#pragma warning restore CS8981
{
    public byte ifi_family;
    public byte __ifi_pad;
    public ushort ifi_type;
    public int ifi_index;
    public uint ifi_flags;
    public uint ifi_change;
}
