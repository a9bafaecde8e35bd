using System.Net.Sockets;
using System.Text;

namespace VmSandbox.Vsock.Muxer;

internal sealed partial class VsockMuxer
{
    private void StartGuestConnection(in VsockHeader h)
    {
        if (_connections.Count >= MaxConnections)
        {
            QueueRst(h);
            return;
        }
        var conn = new VsockConnection(h.DstPort, h.SrcPort, ConnectionState.Connecting)
        {
            PeerBufAlloc = h.BufAlloc,
            PeerFwdCnt = h.FwdCnt,
        };
        _connections.Add(conn.Key, conn);
        _ = ConnectToHostAsync(conn, $"{_udsPath}_{h.DstPort}");
    }

    /// <summary>Guest → host: connect() to "&lt;uds&gt;_&lt;port&gt;"; RESPONSE on success, RST otherwise.</summary>
    private async Task ConnectToHostAsync(VsockConnection conn, string path)
    {
        Socket? socket = null;
        try
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IOException or ObjectDisposedException)
        {
            socket?.Dispose();
            socket = null;
        }
        lock (Gate)
        {
            if (conn.State != ConnectionState.Connecting)
            {
                socket?.Dispose();
                return;
            }
            if (socket is null)
            {
                Close(conn, sendRst: true);
            }
            else
            {
                conn.Socket = socket;
                conn.State = ConnectionState.Established;
                MarkPending(conn, PendingControl.Response);
                StartHostIo(conn);
            }
        }
        _wake();
    }

    /// <summary>Starts the two loops that move bytes between the host socket and the buffers.</summary>
    private void StartHostIo(VsockConnection conn)
    {
        _ = ReadFromHostAsync(conn);
        _ = WriteToHostAsync(conn);
    }

    private async Task ReadFromHostAsync(VsockConnection conn)
    {
        Socket socket = conn.Socket!;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(conn.FromHost.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                lock (Gate)
                {
                    if (conn.State == ConnectionState.Closed)
                    {
                        return;
                    }
                    if (n == 0)
                    {
                        // vhost-device-vsock: host EOF → SHUTDOWN(RCV|SEND); the guest answers RST.
                        conn.HostEof = true;
                        MarkPending(conn, PendingControl.Shutdown);
                    }
                    else
                    {
                        conn.FromHostOffset = 0;
                        conn.FromHostLength = n;
                        Enqueue(conn);
                    }
                }
                _wake();
                if (n == 0)
                {
                    return;
                }
                await conn.ReaderSignal.WaitAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            CloseFromHost(conn);
        }
    }

    private async Task WriteToHostAsync(VsockConnection conn)
    {
        Socket socket = conn.Socket!;
        try
        {
            if (conn.HostInitiated)
            {
                // Hybrid vsock: "OK <port>\n" once the guest accepted (Firecracker docs/vsock.md).
                byte[] ok = Encoding.ASCII.GetBytes($"OK {conn.LocalPort}\n");
                await socket.SendAsync(ok, SocketFlags.None).ConfigureAwait(false);
            }
            while (true)
            {
                int start, count;
                lock (Gate)
                {
                    if (conn.State == ConnectionState.Closed)
                    {
                        return;
                    }
                    start = conn.ToHostStart;
                    count = Math.Min(conn.ToHostCount, VsockConnection.BufferSize - start);
                    if (count == 0)
                    {
                        if (conn.PeerShutdownBoth)
                        {
                            Close(conn, sendRst: true);
                            _wake();
                            return;
                        }
                        if (conn.PeerShutdownSend && !conn.HostWriteShutdown)
                        {
                            conn.HostWriteShutdown = true;
                            socket.Shutdown(SocketShutdown.Send);
                        }
                    }
                }
                if (count == 0)
                {
                    await conn.WriterSignal.WaitAsync().ConfigureAwait(false);
                    continue;
                }
                int n = await socket.SendAsync(conn.ToHost.AsMemory(start, count), SocketFlags.None).ConfigureAwait(false);
                bool wake = false;
                lock (Gate)
                {
                    if (conn.State == ConnectionState.Closed)
                    {
                        return;
                    }
                    conn.ToHostStart = (conn.ToHostStart + n) % VsockConnection.BufferSize;
                    conn.ToHostCount -= n;
                    conn.FwdCnt += (uint)n;
                    if (conn.CreditUpdateDue)
                    {
                        MarkPending(conn, PendingControl.CreditUpdate);
                        wake = true;
                    }
                }
                if (wake)
                {
                    _wake();
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            CloseFromHost(conn);
        }
    }

    /// <summary>
    /// virtio 1.2 §5.10.6.5: after our SHUTDOWN the peer should answer RST; if it does not within
    /// an implementation-defined time, send RST ourselves (Linux waits 8 s, VSOCK_CLOSE_TIMEOUT).
    /// </summary>
    private async Task ResetIfNoRstAsync(VsockConnection conn)
    {
        await Task.Delay(ShutdownTimeout).ConfigureAwait(false);
        CloseFromHost(conn);
    }

    /// <summary>
    /// A guest whose vsock driver is still starting may drop our REQUEST without answering;
    /// give up after a while so the host app sees its connection closed and retries.
    /// </summary>
    private async Task ResetIfNoResponseAsync(VsockConnection conn)
    {
        await Task.Delay(ConnectTimeout).ConfigureAwait(false);
        lock (Gate)
        {
            if (conn.State != ConnectionState.LocalInit)
            {
                return;
            }
            Close(conn, sendRst: true);
        }
        _wake();
    }

    private void CloseFromHost(VsockConnection conn)
    {
        lock (Gate)
        {
            if (conn.State == ConnectionState.Closed)
            {
                return;
            }
            Close(conn, sendRst: true);
        }
        _wake();
    }
}
