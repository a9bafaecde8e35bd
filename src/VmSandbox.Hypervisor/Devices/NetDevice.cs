namespace VmSandbox.Hypervisor.Devices;

/// <summary>
/// A virtio-net NIC backed by the tap device <paramref name="TapName"/> in the hypervisor's
/// network namespace. The hypervisor creates the tap (so it disappears with the VM, whatever
/// way the VM ends); the caller brings it up and wires it (docs/adr/0013-network-mirroring.md).
/// <paramref name="Mac"/> is the guest NIC's address, "aa:bb:cc:dd:ee:ff".
/// </summary>
public sealed record NetDevice(string Id, string TapName, string Mac) : VmDevice(Id);
