using VmSandbox.Hypervisor.Devices;
using VmSandbox.Vsock;

namespace VmSandbox.Runtime.Vsock;

/// <summary>
/// How the host reaches guest vsock ports: our vhost-user vsock device, with guest ports on a
/// Unix socket (hybrid vsock, ADR 0005). The host never opens AF_VSOCK. Started before QEMU.
/// </summary>
public sealed class HybridVsockTransport : IAsyncDisposable
{
    /// <summary>Each VM has its own device, so every guest can use the first non-reserved CID.</summary>
    public const ulong GuestCid = 3;

    /// <summary>File name of the hybrid socket in the sandbox's state directory; other processes (CLI calls) connect to it.</summary>
    public const string UdsFileName = "vsock.sock";

    private readonly VhostUserVsockBackend _backend;

    private HybridVsockTransport(VhostUserVsockBackend backend, string vhostSocket, string udsPath)
    {
        _backend = backend;
        UdsPath = udsPath;
        Device = new VhostUserVsockDevice(vhostSocket);
    }

    /// <summary>The hybrid socket: "CONNECT &lt;port&gt;\n" reaches guest ports; "&lt;UdsPath&gt;_&lt;port&gt;" receives guest connections.</summary>
    public string UdsPath { get; }

    /// <summary>The VM device this transport serves.</summary>
    public VmDevice Device { get; }

    /// <summary>For messages.</summary>
    public string Description => $"hybrid vsock ({UdsPath})";

    /// <summary>Starts the back-end; it must listen before QEMU starts (QEMU connects while realizing the device).</summary>
    public static HybridVsockTransport Start(string stateDir)
    {
        string vhost = Path.Combine(stateDir, "vhost-vsock.sock");
        string uds = Path.Combine(stateDir, UdsFileName);
        VhostUserVsockBackend backend = VhostUserVsockBackend.Start(new VsockBackendOptions { SocketPath = vhost, UdsPath = uds, GuestCid = GuestCid });
        return new HybridVsockTransport(backend, vhost, uds);
    }

    /// <summary>A byte stream to guest port <paramref name="port"/>; retries until the deadline (the guest may not listen yet).</summary>
    public async Task<Stream> ConnectAsync(uint port, DateTimeOffset deadline, CancellationToken ct) =>
        new System.Net.Sockets.NetworkStream(await HybridVsockConnector.ConnectAsync(UdsPath, port, deadline, ct), ownsSocket: true);

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}
