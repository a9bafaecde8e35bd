using System.Net;

namespace VmSandbox.Runtime.Network;

/// <summary>A route of the namespace's main table that the guest needs (not one the kernel derives from an address).</summary>
/// <param name="Destination">Null for the default route of <paramref name="Family"/>.</param>
/// <param name="Gateway">Null for an on-link route.</param>
public sealed record HostRoute(System.Net.Sockets.AddressFamily Family, IPAddress? Destination, int PrefixLength, IPAddress? Gateway, string Device, IPAddress? Source, uint Metric);
