namespace VmSandbox.Hypervisor.Devices;

/// <summary>
/// A device of a sandbox VM, described by what it is rather than by a hypervisor's arguments:
/// the runtime assembles a VM as machine type + kernel + devices, and only the driver
/// (<see cref="Qemu.QemuDeviceRenderer"/>) turns them into command-line arguments or QMP calls.
/// <see cref="Id"/> is unique within one VM.
/// </summary>
public abstract record VmDevice(string Id);
