using System.Net.Sockets;

namespace VmSandbox.Vsock.Muxer;

/// <summary>
/// One stream between (guest_cid, <see cref="PeerPort"/>) and (host, <see cref="LocalPort"/>),
/// bridged to a host Unix socket. Holds both directions' buffers and credit counters
/// (virtio 1.2 §5.10.6.3). All fields are guarded by the muxer's lock, except that the
/// reader/writer loops use the byte arrays outside it on ranges the other side does not touch.
/// </summary>
internal sealed class VsockConnection
{
    /// <summary>
    /// Our receive buffer per connection (guest → host), advertised as buf_alloc: Linux's
    /// default (VIRTIO_VSOCK_DEFAULT_BUF_SIZE, 256 KiB), room for four full packets, so a
    /// streaming guest rarely waits for credit and needs a CREDIT_UPDATE (an interrupt, costly
    /// under TCG) only every few packets.
    /// </summary>
    public const int BufferSize = 256 * 1024;

    /// <summary>Host → guest: one socket read's worth, at most one packet's payload.</summary>
    public const int FromHostSize = 64 * 1024;

    /// <summary>VIRTIO_VSOCK_MAX_PKT_BUF_SIZE: the largest payload a guest puts in one packet.</summary>
    public const uint MaxPacketPayload = 64 * 1024;

    public VsockConnection(uint localPort, uint peerPort, ConnectionState state)
    {
        LocalPort = localPort;
        PeerPort = peerPort;
        State = state;
    }

    public uint LocalPort { get; }

    public uint PeerPort { get; }

    public ulong Key => MakeKey(LocalPort, PeerPort);

    public ConnectionState State { get; set; }

    public Socket? Socket { get; set; }

    public bool HostInitiated { get; init; }

    public PendingControl Pending { get; set; }

    public bool InReadyQueue { get; set; }

    // Guest → host: a ring of BufferSize bytes; the guest may never have more in flight.
    public byte[] ToHost { get; } = new byte[BufferSize];

    public int ToHostStart { get; set; }

    public int ToHostCount { get; set; }

    /// <summary>Payload bytes written to the host socket (our fwd_cnt).</summary>
    public uint FwdCnt { get; set; }

    public uint AdvertisedFwdCnt { get; set; }

    public bool PeerShutdownSend { get; set; }

    public bool PeerShutdownBoth { get; set; }

    public bool HostWriteShutdown { get; set; }

    // Host → guest: one read's worth of bytes waiting for rx buffers and peer credit.
    public byte[] FromHost { get; } = new byte[FromHostSize];

    public int FromHostOffset { get; set; }

    public int FromHostLength { get; set; }

    public bool HostEof { get; set; }

    public bool ShutdownSent { get; set; }

    /// <summary>Payload bytes sent to the guest (tx_cnt).</summary>
    public uint TxCnt { get; set; }

    public uint PeerBufAlloc { get; set; }

    public uint PeerFwdCnt { get; set; }

    public bool CreditRequested { get; set; }

    public AsyncSignal ReaderSignal { get; } = new();

    public AsyncSignal WriterSignal { get; } = new();

    /// <summary>virtio 1.2 §5.10.6.3.1: peer_free = buf_alloc − (tx_cnt − fwd_cnt), u32 wrapping.</summary>
    public uint PeerFree
    {
        get
        {
            uint inFlight = TxCnt - PeerFwdCnt;
            return inFlight >= PeerBufAlloc ? 0 : PeerBufAlloc - inFlight;
        }
    }

    public int FromHostAvailable => FromHostLength - FromHostOffset;

    /// <summary>
    /// Whether the guest should hear our fwd_cnt now. It may send while what it believes free
    /// (buf_alloc − bytes it sent + the fwd_cnt we last told it) is above zero, so an update is
    /// owed once that drops below one full packet: then with at least a packet's worth to give
    /// back, or with everything written (all the credit there is). Earlier updates would only
    /// cost the guest interrupts (Linux's receiver, virtio_transport_stream_do_dequeue, also
    /// waits until the sender's free space is below a packet).
    /// </summary>
    public bool CreditUpdateDue
    {
        get
        {
            uint unadvertised = FwdCnt - AdvertisedFwdCnt;
            if (unadvertised == 0)
            {
                return false;
            }
            uint believedInFlight = FwdCnt + (uint)ToHostCount - AdvertisedFwdCnt;
            uint believedFree = believedInFlight >= BufferSize ? 0 : BufferSize - believedInFlight;
            return believedFree < MaxPacketPayload && (unadvertised >= MaxPacketPayload || ToHostCount == 0);
        }
    }

    /// <summary>Whether <see cref="VsockMuxer"/> can produce a packet for this connection now.</summary>
    public bool HasRxWork =>
        State != ConnectionState.Closed
        && ((Pending & (PendingControl.Request | PendingControl.Response | PendingControl.CreditRequest | PendingControl.CreditUpdate)) != 0
            || (State == ConnectionState.Established && FromHostAvailable > 0 && (PeerFree > 0 || !CreditRequested))
            || ((Pending & PendingControl.Shutdown) != 0 && FromHostAvailable == 0));

    public static ulong MakeKey(uint localPort, uint peerPort)
    {
        return ((ulong)localPort << 32) | peerPort;
    }
}
