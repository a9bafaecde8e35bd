using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/pkt_cls.h struct tc_u32_sel without its flexible keys[] (16 bytes, offmask at 4 after C's implicit padding byte); nkeys tc_u32_key follow it. offmask and hmask are in network byte order.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct tc_u32_sel
{
    public byte flags;
    public byte offshift;
    public byte nkeys;
    public ushort offmask;
    public ushort off;
    public short offoff;
    public short hoff;
    public uint hmask;
}
