using VmSandbox.Common;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Vsock;

/// <summary>
/// The kernel's vhost-vsock (QEMU's vhost-vsock-pci with a host-unique CID); the host reaches
/// guest ports with AF_VSOCK. Chosen only where /dev/vhost-vsock exists; never on hosts whose
/// AF_VSOCK belongs to their own hypervisor (ours), see ADR 0005.
/// </summary>
public sealed class KernelVsockTransport : IVsockTransport
{
    private readonly IDisposable _lease;

    private KernelVsockTransport(uint cid, IDisposable lease)
    {
        Cid = cid;
        _lease = lease;
        Device = new KernelVsockDevice(cid);
    }

    public uint Cid { get; }

    public VmDevice Device { get; }

    public string Description => $"kernel vhost-vsock (cid {Cid})";

    public static KernelVsockTransport Create(string cidLockDir)
    {
        (uint cid, IDisposable lease) = GuestCidAllocator.Allocate(cidLockDir);
        return new KernelVsockTransport(cid, lease);
    }

    public async Task<Stream> ConnectAsync(uint port, DateTimeOffset deadline, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return new RawFdStream(Interop.Vsock.Connect(Cid, port));
            }
            catch (VmSandboxException e) when (DateTimeOffset.UtcNow < deadline)
            {
                _ = e; // not listening yet (ECONNRESET/ECONNREFUSED): retry
                await Task.Delay(20, ct);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _lease.Dispose();
        return ValueTask.CompletedTask;
    }
}
