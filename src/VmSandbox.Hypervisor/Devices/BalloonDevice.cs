namespace VmSandbox.Hypervisor.Devices;

/// <summary>
/// virtio-balloon used only for free page reporting: the guest tells the hypervisor which pages it
/// freed (in 2 MiB blocks), and the hypervisor gives them back to the host (a hole punched in the
/// guest RAM memfd), so memory a sandbox touched once (boot, the freed initramfs, a finished
/// build) does not stay charged to it. The balloon itself is never inflated.
/// </summary>
public sealed record BalloonDevice() : VmDevice("balloon");
