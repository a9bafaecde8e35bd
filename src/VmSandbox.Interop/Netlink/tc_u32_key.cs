using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/pkt_cls.h struct tc_u32_key (16 bytes); mask and val are in network byte order.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct tc_u32_key
{
    public uint mask;
    public uint val;
    public int off;
    public int offmask;
}
