namespace VmSandbox.Interop.Netlink;

/// <summary>
/// Traffic control constants with their C names: include/uapi/linux/rtnetlink.h (TCA_*),
/// pkt_sched.h (TC_H_*), pkt_cls.h (u32, actions) and tc_act/tc_mirred.h.
/// </summary>
public static class TcConstants
{
    // rtnetlink.h: enum TCA_*
    public const ushort TCA_KIND = 1;
    public const ushort TCA_OPTIONS = 2;

    // pkt_sched.h
    public const uint TC_H_ROOT = 0xFFFFFFFF;
    public const uint TC_H_INGRESS = 0xFFFFFFF1;
    public const uint TC_H_CLSACT = TC_H_INGRESS;
    public const uint TC_H_MAJ_MASK = 0xFFFF0000;

    /// <summary>The ingress qdisc's handle, "ffff:".</summary>
    public const uint INGRESS_HANDLE = 0xFFFF0000;

    // pkt_cls.h: enum TCA_U32_*
    public const ushort TCA_U32_CLASSID = 1;
    public const ushort TCA_U32_HASH = 2;
    public const ushort TCA_U32_LINK = 3;
    public const ushort TCA_U32_DIVISOR = 4;
    public const ushort TCA_U32_SEL = 5;
    public const ushort TCA_U32_POLICE = 6;
    public const ushort TCA_U32_ACT = 7;
    public const byte TC_U32_TERMINAL = 1;

    // pkt_cls.h: enum TCA_ACT_*
    public const ushort TCA_ACT_KIND = 1;
    public const ushort TCA_ACT_OPTIONS = 2;

    // pkt_cls.h: TC_ACT_*
    public const int TC_ACT_OK = 0;
    public const int TC_ACT_SHOT = 2;
    public const int TC_ACT_STOLEN = 4;
    public const int TC_ACT_PIPE = 3;

    // tc_act/tc_mirred.h
    public const ushort TCA_MIRRED_PARMS = 2;

    public const int TCA_EGRESS_REDIR = 1;
    public const int TCA_EGRESS_MIRROR = 2;
    public const int TCA_INGRESS_REDIR = 3;
    public const int TCA_INGRESS_MIRROR = 4;

    /// <summary>linux/if_ether.h ETH_P_ALL, in host order; tcm_info carries it in network order.</summary>
    public const ushort ETH_P_ALL = 0x0003;
    public const ushort ETH_P_IP = 0x0800;
    public const ushort ETH_P_ARP = 0x0806;
    public const ushort ETH_P_IPV6 = 0x86DD;
}
