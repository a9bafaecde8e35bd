using VmSandbox.Hypervisor.Devices;
namespace VmSandbox.Runtime.Vsock;

/// <summary>
/// How the host reaches guest vsock ports: our vhost-user device with hybrid vsock (everywhere),
/// or the kernel's vhost-vsock (only where /dev/vhost-vsock exists). Created before QEMU starts.
/// </summary>
public interface IVsockTransport : IAsyncDisposable
{
    /// <summary>The VM device this transport serves.</summary>
    VmDevice Device { get; }

    /// <summary>For messages: "hybrid vsock (…)" or "kernel vhost-vsock (cid N)".</summary>
    string Description { get; }

    /// <summary>A byte stream to guest port <paramref name="port"/>; retries until the deadline (the guest may not listen yet).</summary>
    Task<Stream> ConnectAsync(uint port, DateTimeOffset deadline, CancellationToken ct);
}
