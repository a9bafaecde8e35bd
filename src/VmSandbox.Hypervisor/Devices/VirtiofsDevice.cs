namespace VmSandbox.Hypervisor.Devices;

/// <summary>A virtio-fs share: the guest mounts <paramref name="Tag"/>; virtiofsd listens on <paramref name="SocketPath"/>.</summary>
public sealed record VirtiofsDevice(string Id, string SocketPath, string Tag) : VmDevice(Id);
