namespace VmSandbox.Vsock.Muxer;

/// <summary>Control packets a connection still owes the guest (sent when rx has room).</summary>
[Flags]
internal enum PendingControl
{
    None = 0,
    Request = 1,
    Response = 2,
    Shutdown = 4,
    CreditRequest = 8,
    CreditUpdate = 16,
}
