namespace VmSandbox.Vsock;

/// <summary>Where the vhost-user vsock back-end listens and which CID it gives the guest.</summary>
public sealed class VsockBackendOptions
{
    /// <summary>The vhost-user socket QEMU connects to (-chardev socket,path=…).</summary>
    public required string SocketPath { get; init; }

    /// <summary>
    /// The hybrid vsock Unix socket: host apps connect here and send "CONNECT &lt;port&gt;\n";
    /// guest connections to CID 2 port P go to "&lt;UdsPath&gt;_P".
    /// </summary>
    public required string UdsPath { get; init; }

    /// <summary>The guest's CID (≥ 3; 0, 1, 2 and 0xffffffff are reserved).</summary>
    public required ulong GuestCid { get; init; }

    /// <summary>Receives one line per notable event (protocol errors, broken rings); optional.</summary>
    public Action<string>? Log { get; init; }
}
