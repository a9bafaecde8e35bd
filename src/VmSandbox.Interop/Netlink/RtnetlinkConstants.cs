namespace VmSandbox.Interop.Netlink;

/// <summary>
/// rtnetlink constants with their C names: include/uapi/linux/rtnetlink.h, if_link.h,
/// if_addr.h, if.h and if_arp.h.
/// </summary>
public static class RtnetlinkConstants
{
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_DELLINK = 17;
    public const ushort RTM_GETLINK = 18;
    public const ushort RTM_SETLINK = 19;
    public const ushort RTM_NEWADDR = 20;
    public const ushort RTM_DELADDR = 21;
    public const ushort RTM_GETADDR = 22;
    public const ushort RTM_NEWROUTE = 24;
    public const ushort RTM_DELROUTE = 25;
    public const ushort RTM_GETROUTE = 26;
    public const ushort RTM_NEWQDISC = 36;
    public const ushort RTM_DELQDISC = 37;
    public const ushort RTM_GETQDISC = 38;
    public const ushort RTM_NEWTFILTER = 44;
    public const ushort RTM_DELTFILTER = 45;
    public const ushort RTM_GETTFILTER = 46;

    public const byte AF_UNSPEC = 0;
    public const byte AF_INET = 2;
    public const byte AF_INET6 = 10;

    // if_link.h: enum IFLA_*
    public const ushort IFLA_ADDRESS = 1;
    public const ushort IFLA_BROADCAST = 2;
    public const ushort IFLA_IFNAME = 3;
    public const ushort IFLA_MTU = 4;
    public const ushort IFLA_LINK = 5;
    public const ushort IFLA_MASTER = 10;
    public const ushort IFLA_NET_NS_FD = 28;
    public const ushort IFLA_LINKINFO = 18;
    public const ushort IFLA_INFO_KIND = 1;
    public const ushort IFLA_INFO_DATA = 2;

    /// <summary>linux/if.h IFNAMSIZ: names are at most 15 bytes plus the NUL.</summary>
    public const int IFNAMSIZ = 16;

    // if.h: enum net_device_flags
    public const uint IFF_UP = 0x1;
    public const uint IFF_BROADCAST = 0x2;
    public const uint IFF_LOOPBACK = 0x8;
    public const uint IFF_POINTOPOINT = 0x10;
    public const uint IFF_RUNNING = 0x40;
    public const uint IFF_NOARP = 0x80;
    public const uint IFF_PROMISC = 0x100;
    public const uint IFF_MULTICAST = 0x1000;
    public const uint IFF_LOWER_UP = 0x10000;

    // if_arp.h
    public const ushort ARPHRD_ETHER = 1;
    public const ushort ARPHRD_NONE = 0xFFFE;
    public const ushort ARPHRD_LOOPBACK = 772;

    // if_addr.h: enum IFA_*
    public const ushort IFA_ADDRESS = 1;
    public const ushort IFA_LOCAL = 2;
    public const ushort IFA_LABEL = 3;
    public const ushort IFA_BROADCAST = 4;
    public const ushort IFA_CACHEINFO = 6;
    public const ushort IFA_FLAGS = 8;

    public const uint IFA_F_SECONDARY = 0x01;
    public const uint IFA_F_NODAD = 0x02;
    public const uint IFA_F_DADFAILED = 0x08;
    public const uint IFA_F_TENTATIVE = 0x40;
    public const uint IFA_F_PERMANENT = 0x80;
    public const uint IFA_F_NOPREFIXROUTE = 0x200;

    // rtnetlink.h: enum rtattr_type_t
    public const ushort RTA_DST = 1;
    public const ushort RTA_SRC = 2;
    public const ushort RTA_IIF = 3;
    public const ushort RTA_OIF = 4;
    public const ushort RTA_GATEWAY = 5;
    public const ushort RTA_PRIORITY = 6;
    public const ushort RTA_PREFSRC = 7;
    public const ushort RTA_METRICS = 8;
    public const ushort RTA_MULTIPATH = 9;
    public const ushort RTA_TABLE = 15;

    public const byte RTN_UNSPEC = 0;
    public const byte RTN_UNICAST = 1;
    public const byte RTN_LOCAL = 2;
    public const byte RTN_BROADCAST = 3;
    public const byte RTN_ANYCAST = 4;
    public const byte RTN_MULTICAST = 5;
    public const byte RTN_BLACKHOLE = 6;
    public const byte RTN_UNREACHABLE = 7;

    public const byte RTPROT_UNSPEC = 0;
    public const byte RTPROT_REDIRECT = 1;
    public const byte RTPROT_KERNEL = 2;
    public const byte RTPROT_BOOT = 3;
    public const byte RTPROT_STATIC = 4;
    public const byte RTPROT_RA = 9;
    public const byte RTPROT_DHCP = 16;

    public const byte RT_SCOPE_UNIVERSE = 0;
    public const byte RT_SCOPE_SITE = 200;
    public const byte RT_SCOPE_LINK = 253;
    public const byte RT_SCOPE_HOST = 254;
    public const byte RT_SCOPE_NOWHERE = 255;

    public const uint RT_TABLE_UNSPEC = 0;
    public const uint RT_TABLE_DEFAULT = 253;
    public const uint RT_TABLE_MAIN = 254;
    public const uint RT_TABLE_LOCAL = 255;
}
