using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/tc_act/tc_mirred.h struct tc_mirred (28 bytes): tc_gen (index, capab, action, refcnt, bindcnt) then eaction and ifindex.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct tc_mirred
{
    public uint index;
    public uint capab;
    public int action;
    public int refcnt;
    public int bindcnt;
    public int eaction;
    public uint ifindex;
}
