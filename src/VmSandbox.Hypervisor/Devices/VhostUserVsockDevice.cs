namespace VmSandbox.Hypervisor.Devices;

/// <summary>virtio-vsock served by a vhost-user back-end (ours, ADR 0005) listening on <paramref name="SocketPath"/>.</summary>
public sealed record VhostUserVsockDevice(string SocketPath) : VmDevice("vsock");
