namespace VmSandbox.Hypervisor;

/// <summary>
/// QEMU's machine model for a sandbox VM (ADR 0016). <see cref="Microvm"/> is the fast shape: no
/// firmware tables, no PCI, virtio-mmio devices the kernel finds on its command line, PVH entry
/// into an uncompressed kernel; it needs a kernel built for it (our minimal kernel) and has no
/// hot-plug. <see cref="Q35"/> is a PC with PCIe and ACPI: any x86 kernel boots on it, and NICs
/// can be hot-plugged into its root ports.
/// </summary>
public enum MachineType
{
    Q35,
    Microvm,
}
