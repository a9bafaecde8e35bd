using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>linux/rtnetlink.h struct tcmsg (20 bytes): the RTM_*QDISC / RTM_*TFILTER header.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name, all lower case
public struct tcmsg
#pragma warning restore CS8981
{
    public byte tcm_family;
    public byte tcm__pad1;
    public ushort tcm__pad2;
    public int tcm_ifindex;
    public uint tcm_handle;
    public uint tcm_parent;

    /// <summary>For filters: TC_H_MAKE(prio &lt;&lt; 16, protocol in network order).</summary>
    public uint tcm_info;
}
