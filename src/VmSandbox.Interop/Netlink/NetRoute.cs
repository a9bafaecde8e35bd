using System.Net;
using System.Net.Sockets;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// A route as RTM_GETROUTE reports it and RTM_NEWROUTE takes it. The defaults are those of
/// `ip route add`: main table, proto boot, scope universe, unicast. An on-link route (no gateway)
/// takes Scope = RT_SCOPE_LINK, as `ip route add 10.0.0.0/24 dev eth0` gives it.
/// </summary>
public sealed record NetRoute
{
    public required AddressFamily Family { get; init; }

    /// <summary>RTA_DST; null for the default route (prefix length 0).</summary>
    public IPAddress? Destination { get; init; }

    /// <summary>rtm_dst_len.</summary>
    public int PrefixLength { get; init; }

    /// <summary>RTA_GATEWAY; null for an on-link route.</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary>RTA_OIF; 0 when the route has none (multipath routes are not decoded).</summary>
    public int OutputLinkIndex { get; init; }

    /// <summary>RTA_PREFSRC.</summary>
    public IPAddress? PreferredSource { get; init; }

    /// <summary>RTA_PRIORITY, the metric; 0 means none given (IPv6 then picks 1024).</summary>
    public uint Priority { get; init; }

    public byte Scope { get; init; } = RtnetlinkConstants.RT_SCOPE_UNIVERSE;

    public byte Protocol { get; init; } = RtnetlinkConstants.RTPROT_BOOT;

    /// <summary>rtm_type: RTN_UNICAST for the routes worth mirroring.</summary>
    public byte Type { get; init; } = RtnetlinkConstants.RTN_UNICAST;

    /// <summary>RTA_TABLE (or rtm_table); reading returns only RT_TABLE_MAIN.</summary>
    public uint Table { get; init; } = RtnetlinkConstants.RT_TABLE_MAIN;

    public bool IsDefault => Destination is null || PrefixLength == 0;
}
