namespace VmSandbox.Vsock;

/// <summary>virtio 1.2 §5.10.6: packet operations.</summary>
internal enum VsockOp : ushort
{
    Invalid = 0,
    Request = 1,
    Response = 2,
    Rst = 3,
    Shutdown = 4,
    Rw = 5,
    CreditUpdate = 6,
    CreditRequest = 7,
}
