using System.Net;
using System.Net.Sockets;

namespace VmSandbox.Interop.Netlink;

/// <summary>An interface address as RTM_GETADDR reports it (IPv4 and IPv6 only).</summary>
/// <param name="LinkIndex">ifa_index.</param>
/// <param name="Family">InterNetwork or InterNetworkV6.</param>
/// <param name="Address">IFA_LOCAL, or IFA_ADDRESS where there is no IFA_LOCAL (IPv6).</param>
/// <param name="PrefixLength">ifa_prefixlen.</param>
/// <param name="Scope">ifa_scope: RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST.</param>
/// <param name="Flags">IFA_FLAGS when present, else ifa_flags: IFA_F_PERMANENT, IFA_F_NODAD, …</param>
public sealed record NetAddress(int LinkIndex, AddressFamily Family, IPAddress Address, int PrefixLength, byte Scope, uint Flags);
