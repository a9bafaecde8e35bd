namespace VmSandbox.Hypervisor.Devices;

/// <summary>virtio-vsock served by the host kernel's vhost-vsock, with the guest's context ID.</summary>
public sealed record KernelVsockDevice(ulong GuestCid) : VmDevice("vsock");
