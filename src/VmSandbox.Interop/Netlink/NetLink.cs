namespace VmSandbox.Interop.Netlink;

/// <summary>
/// A network interface as RTM_GETLINK reports it.
/// </summary>
/// <param name="Index">ifi_index.</param>
/// <param name="Name">IFLA_IFNAME.</param>
/// <param name="Mac">IFLA_ADDRESS (the link-layer address), null when the link has none.</param>
/// <param name="Mtu">IFLA_MTU.</param>
/// <param name="Flags">ifi_flags: IFF_UP, IFF_LOWER_UP, …</param>
/// <param name="Kind">IFLA_LINKINFO/IFLA_INFO_KIND ("veth", "tun", "bridge"), null for a physical or kind-less link.</param>
/// <param name="LinkType">ifi_type: ARPHRD_ETHER, ARPHRD_LOOPBACK, …</param>
public sealed record NetLink(int Index, string Name, byte[]? Mac, int Mtu, uint Flags, string? Kind, ushort LinkType)
{
    public bool IsUp => (Flags & RtnetlinkConstants.IFF_UP) != 0;

    /// <summary>The MAC in "aa:bb:cc:dd:ee:ff" form, null when the link has none.</summary>
    public string? MacString => Mac is null ? null : string.Join(':', Mac.Select(b => b.ToString("x2")));
}
