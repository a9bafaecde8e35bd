namespace VmSandbox.Vsock.Muxer;

/// <summary>
/// The vsock device logic (virtio 1.2 §5.10) between the guest's tx/rx queues and host Unix
/// sockets, hybrid-vsock style: guest REQUESTs to CID 2 port P connect to "&lt;uds&gt;_P";
/// host apps arrive through <see cref="Hybrid.HybridListener"/>. Collaborators: the device
/// (<see cref="VsockDevice"/>) feeds it tx packets and asks it to fill rx buffers, all under
/// <see cref="Gate"/>; per-connection async loops move bytes to and from host sockets and call
/// the wake-up callback when they have something for the guest.
/// Every header field comes from the guest and is validated; a bad packet costs at most its
/// own connection (RST) and never throws.
/// </summary>
internal sealed partial class VsockMuxer
{
    public const int MaxConnections = 1024;
    private const int RstQueueCapacity = 256;
    private const uint FirstLocalPort = 1u << 30;
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(5);

    private readonly ulong _guestCid;
    private readonly string _udsPath;
    private readonly Action _wake;
    private readonly Action<string>? _log;
    private readonly Dictionary<ulong, VsockConnection> _connections = [];
    private readonly Queue<VsockConnection> _ready = new();
    private readonly VsockHeader[] _rsts = new VsockHeader[RstQueueCapacity];
    private int _rstHead;
    private int _rstCount;
    private uint _nextLocalPort = FirstLocalPort;
    private bool _stopped;

    public VsockMuxer(ulong guestCid, string udsPath, Action wake, Action<string>? log = null)
    {
        _guestCid = guestCid;
        _udsPath = udsPath;
        _wake = wake;
        _log = log;
    }

    /// <summary>The device lock: guards the muxer, its connections and the virtqueues.</summary>
    public Lock Gate { get; } = new();

    public int ConnectionCount => _connections.Count;

    /// <summary>False while the RST backlog is full: stop popping tx until rx drains it.</summary>
    public bool CanAcceptTx => _rstCount < RstQueueCapacity;

    public bool HasRxWork => _rstCount > 0 || _ready.Count > 0;

    public ulong GuestCid => _guestCid;

    /// <summary>How long a SHUTDOWN we sent may stay unanswered before we send RST (tests shorten it).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = s_shutdownTimeout;

    /// <summary>How long a host-initiated REQUEST may wait for the guest's RESPONSE or RST.</summary>
    public TimeSpan ConnectTimeout { get; init; } = s_connectTimeout;

    /// <summary>Handles one packet (header + payload) the guest put on the tx queue.</summary>
    public void OnTxPacket(ReadOnlySpan<byte> packet)
    {
        if (_stopped || !VsockHeader.TryRead(packet, out VsockHeader h))
        {
            return;
        }
        if (h.SrcCid != _guestCid)
        {
            // A spoofed source: answering would address someone else. Drop.
            return;
        }
        if (h.DstCid != VsockHeader.HostCid || h.Type != VsockHeader.TypeStream || h.Len > packet.Length - VsockHeader.Size)
        {
            if (h.Op != VsockOp.Rst)
            {
                QueueRst(h);
            }
            CloseIfExists(h);
            return;
        }
        ReadOnlySpan<byte> payload = packet.Slice(VsockHeader.Size, (int)h.Len);
        if (!_connections.TryGetValue(VsockConnection.MakeKey(h.DstPort, h.SrcPort), out VsockConnection? conn))
        {
            if (h.Op == VsockOp.Request)
            {
                StartGuestConnection(h);
            }
            else if (h.Op != VsockOp.Rst)
            {
                QueueRst(h);
            }
            return;
        }
        UpdatePeerCredit(conn, h);
        switch (h.Op)
        {
            case VsockOp.Response when conn.State == ConnectionState.LocalInit:
                conn.State = ConnectionState.Established;
                StartHostIo(conn);
                break;
            case VsockOp.Rst:
                Close(conn, sendRst: false);
                break;
            case VsockOp.Shutdown:
                OnPeerShutdown(conn, h.Flags);
                break;
            case VsockOp.Rw when conn.State == ConnectionState.Established && !conn.PeerShutdownSend:
                OnPeerData(conn, payload);
                break;
            case VsockOp.CreditUpdate:
                break;
            case VsockOp.CreditRequest:
                MarkPending(conn, PendingControl.CreditUpdate);
                break;
            default:
                // REQUEST on a live flow, RESPONSE out of turn, RW before established, bad op.
                Close(conn, sendRst: true);
                break;
        }
    }

    /// <summary>Registers a host app that asked (CONNECT) for guest port <paramref name="peerPort"/>.</summary>
    public bool TryAddHostConnection(System.Net.Sockets.Socket socket, uint peerPort)
    {
        if (_stopped || _connections.Count >= MaxConnections)
        {
            return false;
        }
        uint local;
        do
        {
            local = _nextLocalPort++;
            if (_nextLocalPort < FirstLocalPort)
            {
                _nextLocalPort = FirstLocalPort;
            }
        }
        while (_connections.ContainsKey(VsockConnection.MakeKey(local, peerPort)));
        var conn = new VsockConnection(local, peerPort, ConnectionState.LocalInit) { Socket = socket, HostInitiated = true };
        _connections.Add(conn.Key, conn);
        MarkPending(conn, PendingControl.Request);
        return true;
    }

    /// <summary>Closes every connection (device reset or back-end shutdown).</summary>
    public void Reset(bool stop)
    {
        foreach (VsockConnection conn in _connections.Values.ToArray())
        {
            Close(conn, sendRst: false);
        }
        _ready.Clear();
        _rstCount = 0;
        _stopped |= stop;
    }

    private void UpdatePeerCredit(VsockConnection conn, in VsockHeader h)
    {
        uint before = conn.PeerFree;
        conn.PeerBufAlloc = h.BufAlloc;
        conn.PeerFwdCnt = h.FwdCnt;
        if (conn.PeerFree > before || (conn.PeerFree > 0 && conn.FromHostAvailable > 0))
        {
            conn.CreditRequested = false;
            Enqueue(conn);
        }
    }

    private void OnPeerData(VsockConnection conn, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > VsockConnection.BufferSize - conn.ToHostCount)
        {
            // The guest ignored the credit we advertised.
            _log?.Invoke($"vsock {conn.PeerPort}->{conn.LocalPort}: guest exceeded credit, reset");
            Close(conn, sendRst: true);
            return;
        }
        int tail = (conn.ToHostStart + conn.ToHostCount) % VsockConnection.BufferSize;
        int first = Math.Min(payload.Length, VsockConnection.BufferSize - tail);
        payload[..first].CopyTo(conn.ToHost.AsSpan(tail));
        payload[first..].CopyTo(conn.ToHost);
        conn.ToHostCount += payload.Length;
        conn.WriterSignal.Set();
    }

    private void OnPeerShutdown(VsockConnection conn, uint flags)
    {
        if ((flags & VsockHeader.ShutdownSend) != 0)
        {
            conn.PeerShutdownSend = true;
        }
        if ((flags & (VsockHeader.ShutdownSend | VsockHeader.ShutdownRcv)) == (VsockHeader.ShutdownSend | VsockHeader.ShutdownRcv))
        {
            conn.PeerShutdownBoth = true;
        }
        if (conn.State != ConnectionState.Established || (conn.PeerShutdownBoth && conn.ToHostCount == 0))
        {
            // vhost-device-vsock: both directions shut and nothing left to flush → RST.
            Close(conn, sendRst: true);
            return;
        }
        conn.WriterSignal.Set();
    }

    private void CloseIfExists(in VsockHeader h)
    {
        if (_connections.TryGetValue(VsockConnection.MakeKey(h.DstPort, h.SrcPort), out VsockConnection? conn))
        {
            Close(conn, sendRst: false);
        }
    }

    private void QueueRst(in VsockHeader received)
    {
        if (_rstCount == RstQueueCapacity)
        {
            return;
        }
        _rsts[(_rstHead + _rstCount) % RstQueueCapacity] = new VsockHeader
        {
            SrcCid = VsockHeader.HostCid,
            DstCid = _guestCid,
            SrcPort = received.DstPort,
            DstPort = received.SrcPort,
            Type = VsockHeader.TypeStream,
            Op = VsockOp.Rst,
        };
        _rstCount++;
    }

    private void MarkPending(VsockConnection conn, PendingControl what)
    {
        conn.Pending |= what;
        Enqueue(conn);
    }

    private void Enqueue(VsockConnection conn)
    {
        if (!conn.InReadyQueue && conn.State != ConnectionState.Closed)
        {
            conn.InReadyQueue = true;
            _ready.Enqueue(conn);
        }
    }

    /// <summary>Removes the connection, closes its socket and optionally tells the guest (RST).</summary>
    private void Close(VsockConnection conn, bool sendRst)
    {
        if (conn.State == ConnectionState.Closed)
        {
            return;
        }
        conn.State = ConnectionState.Closed;
        _connections.Remove(conn.Key);
        if (sendRst)
        {
            QueueRst(new VsockHeader { SrcPort = conn.PeerPort, DstPort = conn.LocalPort });
        }
        conn.Socket?.Dispose();
        conn.ReaderSignal.Set();
        conn.WriterSignal.Set();
    }
}
