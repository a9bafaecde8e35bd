using System.Net;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// One interface of the container's network namespace on the host (Docker's or CNI's veth,
/// podman's), as the guest must see it: same name, MAC, MTU, addresses and link state.
/// </summary>
public sealed record HostInterface
{
    public required int Index { get; init; }
    public required string Name { get; init; }
    /// <summary>"aa:bb:cc:dd:ee:ff".</summary>
    public required string Mac { get; init; }
    public required int Mtu { get; init; }
    public required bool Up { get; init; }
    public IReadOnlyList<(IPAddress Address, int PrefixLength)> Addresses { get; init; } = [];
}
