namespace VmSandbox.Vsock.Muxer;

internal sealed partial class VsockMuxer
{
    /// <summary>
    /// Writes the next packet for the guest (header + payload) into <paramref name="dest"/>,
    /// the capacity of one rx chain. Returns its length, or 0 when there is nothing to send
    /// (or dest cannot hold a header).
    /// </summary>
    public int FillRx(Span<byte> dest)
    {
        if (dest.Length < VsockHeader.Size)
        {
            return 0;
        }
        if (_rstCount > 0)
        {
            VsockHeader rst = _rsts[_rstHead];
            _rstHead = (_rstHead + 1) % RstQueueCapacity;
            _rstCount--;
            rst.Write(dest);
            return VsockHeader.Size;
        }
        // Bounded: a connection re-queued below is not looked at twice in one call.
        for (int budget = _ready.Count; budget > 0 && _ready.TryDequeue(out VsockConnection? conn); budget--)
        {
            conn.InReadyQueue = false;
            if (conn.State == ConnectionState.Closed)
            {
                continue;
            }
            int n = Produce(conn, dest);
            if (conn.HasRxWork)
            {
                Enqueue(conn);
            }
            if (n > 0)
            {
                return n;
            }
        }
        return 0;
    }

    private int Produce(VsockConnection conn, Span<byte> dest)
    {
        var h = new VsockHeader
        {
            SrcCid = VsockHeader.HostCid,
            DstCid = _guestCid,
            SrcPort = conn.LocalPort,
            DstPort = conn.PeerPort,
            Type = VsockHeader.TypeStream,
            BufAlloc = VsockConnection.BufferSize,
            FwdCnt = conn.FwdCnt,
        };
        if (Take(conn, PendingControl.Request))
        {
            h.Op = VsockOp.Request;
            _ = ResetIfNoResponseAsync(conn);
        }
        else if (Take(conn, PendingControl.Response))
        {
            h.Op = VsockOp.Response;
        }
        else if (conn.State == ConnectionState.Established && conn.FromHostAvailable > 0 && conn.PeerFree > 0)
        {
            int len = (int)Math.Min(Math.Min((uint)conn.FromHostAvailable, conn.PeerFree), (uint)(dest.Length - VsockHeader.Size));
            if (len == 0)
            {
                return 0;
            }
            h.Op = VsockOp.Rw;
            h.Len = (uint)len;
            conn.FromHost.AsSpan(conn.FromHostOffset, len).CopyTo(dest[VsockHeader.Size..]);
            conn.FromHostOffset += len;
            conn.TxCnt += (uint)len;
            if (conn.FromHostAvailable == 0)
            {
                conn.FromHostOffset = 0;
                conn.FromHostLength = 0;
                conn.ReaderSignal.Set();
            }
        }
        else if (conn.FromHostAvailable == 0 && Take(conn, PendingControl.Shutdown))
        {
            h.Op = VsockOp.Shutdown;
            h.Flags = VsockHeader.ShutdownRcv | VsockHeader.ShutdownSend;
            conn.ShutdownSent = true;
            _ = ResetIfNoRstAsync(conn);
        }
        else if (Take(conn, PendingControl.CreditRequest))
        {
            h.Op = VsockOp.CreditRequest;
        }
        else if (Take(conn, PendingControl.CreditUpdate))
        {
            h.Op = VsockOp.CreditUpdate;
        }
        else
        {
            if (conn.State == ConnectionState.Established && conn.FromHostAvailable > 0 && conn.PeerFree == 0 && !conn.CreditRequested)
            {
                // Blocked on the guest's credit: ask once; its next update re-queues us.
                conn.CreditRequested = true;
                h.Op = VsockOp.CreditRequest;
            }
            else
            {
                return 0;
            }
        }
        // Every packet tells the guest our fwd_cnt, so a separate update is no longer owed.
        conn.AdvertisedFwdCnt = conn.FwdCnt;
        conn.Pending &= ~PendingControl.CreditUpdate;
        h.Write(dest);
        return VsockHeader.Size + (int)h.Len;
    }

    private static bool Take(VsockConnection conn, PendingControl what)
    {
        if ((conn.Pending & what) == 0)
        {
            return false;
        }
        conn.Pending &= ~what;
        return true;
    }
}
