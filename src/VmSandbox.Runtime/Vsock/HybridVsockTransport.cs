using VmSandbox.Hypervisor.Devices;
using VmSandbox.Vsock;
using VmSandbox.Vsock.Hybrid;

namespace VmSandbox.Runtime.Vsock;

/// <summary>Our vhost-user vsock back-end; guest ports are reached through a Unix socket (ADR 0005).</summary>
public sealed class HybridVsockTransport : IVsockTransport
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

    public VmDevice Device { get; }

    public string Description => $"hybrid vsock ({UdsPath})";

    /// <summary>Starts the back-end; it must listen before QEMU starts (QEMU connects while realizing the device).</summary>
    public static HybridVsockTransport Start(string stateDir)
    {
        string vhost = Path.Combine(stateDir, "vhost-vsock.sock");
        string uds = Path.Combine(stateDir, UdsFileName);
        VhostUserVsockBackend backend = VhostUserVsockBackend.Start(new VsockBackendOptions { SocketPath = vhost, UdsPath = uds, GuestCid = GuestCid });
        return new HybridVsockTransport(backend, vhost, uds);
    }

    public async Task<Stream> ConnectAsync(uint port, DateTimeOffset deadline, CancellationToken ct) =>
        new System.Net.Sockets.NetworkStream(await HybridVsockConnector.ConnectAsync(UdsPath, port, deadline, ct), ownsSocket: true);

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}
