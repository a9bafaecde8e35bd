namespace VmSandbox.Vsock.Muxer;

/// <summary>Life cycle of one stream connection between a guest port and a host Unix socket.</summary>
internal enum ConnectionState
{
    /// <summary>Guest sent REQUEST; we are connecting to &lt;uds&gt;_&lt;port&gt;.</summary>
    Connecting,
    /// <summary>A host app sent CONNECT; we sent (or will send) REQUEST and wait for RESPONSE.</summary>
    LocalInit,
    Established,
    /// <summary>Removed from the table; its socket is closed.</summary>
    Closed,
}
