namespace VmSandbox.Virtio;

/// <summary>
/// One guest RAM region as vhost-user describes it, with the host address where its first
/// byte (guest_phys_addr) is mapped in this process.
/// </summary>
public readonly record struct GuestRegion(ulong GuestPhysAddr, ulong Size, ulong UserAddr, nint Host);
