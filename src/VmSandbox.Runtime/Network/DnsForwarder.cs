using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// The host end of the guest's DNS relays: listens on the hybrid vsock socket
/// "&lt;uds&gt;_&lt;port&gt;" (our vsock device connect()s there for each guest connection to host
/// port &lt;port&gt;) and splices each connection byte for byte to a fresh TCP connection to the
/// upstream name server, e.g. Docker's embedded DNS at 127.0.0.11:53, which only this side of
/// the container's network namespace reaches. It runs in the sandbox monitor, inside that
/// namespace; its peer is the guest agent's DnsRelay. The guest is untrusted: connections are
/// bounded in number, closed when idle, and copied through fixed buffers.
/// </summary>
public sealed class DnsForwarder : IDisposable
{
    public const int DefaultMaxConnections = 32;

    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly IPEndPoint _upstream;
    private readonly bool _datagrams;
    private readonly int _maxConnections;
    private readonly TimeSpan _idleTimeout;
    private readonly OncePerKindLog _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _live = new();
    private int _active;
    private int _disposed;

    private DnsForwarder(Socket listener, string socketPath, IPEndPoint upstream, bool datagrams, int maxConnections, TimeSpan idleTimeout, OncePerKindLog log)
    {
        _listener = listener;
        _datagrams = datagrams;
        SocketPath = socketPath;
        _upstream = upstream;
        _maxConnections = maxConnections;
        _idleTimeout = idleTimeout;
        _log = log;
    }

    /// <summary>The Unix socket the vsock device connects to: "&lt;uds&gt;_&lt;port&gt;".</summary>
    public string SocketPath { get; }

    /// <summary>Guest connections being forwarded now.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    /// <summary>Failures of one kind so far ("busy", "upstream connect").</summary>
    public long Failures(string kind) => _log.Count(kind);

    /// <summary>
    /// Listens for guest connections to vsock port <paramref name="port"/> of the hybrid vsock
    /// socket <paramref name="udsPath"/> and forwards each to <paramref name="upstream"/>: spliced
    /// to a TCP connection, or with <paramref name="datagrams"/> each DNS-over-TCP framed query
    /// sent as one UDP datagram and its reply framed back (the guest's resolver asked over UDP, and
    /// Docker's embedded DNS forwards outside names in the protocol the query came in).
    /// </summary>
    public static DnsForwarder Start(string udsPath, uint port, IPEndPoint upstream, Action<string> log, int maxConnections = DefaultMaxConnections, TimeSpan? idleTimeout = null, bool datagrams = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        string path = $"{udsPath}_{port}";
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            SocketFile.Bind(listener, path, replaceStale: false); // in use: another forwarder's, an error
            listener.Listen(maxConnections);
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IOException)
        {
            listener.Dispose();
            throw new VmSandboxException(ErrorCode.System, $"dns forwarder for vsock port {port}: listen on {path}", e);
        }
        var forwarder = new DnsForwarder(listener, path, upstream, datagrams, maxConnections, idleTimeout ?? DefaultIdleTimeout,
            new OncePerKindLog(log, $"dns forwarder to {upstream}"));
        _ = forwarder.AcceptLoopAsync();
        return forwarder;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket guest;
            try
            {
                guest = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Report("accept", $"accept failed ({e.SocketErrorCode})");
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            if (Interlocked.Increment(ref _active) > _maxConnections)
            {
                // Closed at once rather than left in the backlog: the guest's resolver fails fast and retries.
                Interlocked.Decrement(ref _active);
                _log.Report("busy", $"closed a guest connection: {_maxConnections} already open");
                guest.Dispose();
                continue;
            }
            _ = ForwardAsync(guest);
        }
    }

    private async Task ForwardAsync(Socket guest)
    {
        if (_datagrams)
        {
            await ForwardDatagramsAsync(guest).ConfigureAwait(false);
            return;
        }
        var upstream = new Socket(_upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _live[guest] = 0;
        _live[upstream] = 0;
        try
        {
            if (_stop.IsCancellationRequested)
            {
                return; // disposed between accept and here; Dispose may have missed these sockets
            }
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                cts.CancelAfter(_idleTimeout);
                await upstream.ConnectAsync(_upstream, cts.Token).ConfigureAwait(false);
            }
            await StreamSplice.RunAsync(
                new NetworkStream(guest, ownsSocket: true),
                new NetworkStream(upstream, ownsSocket: true),
                _idleTimeout,
                _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (!_stop.IsCancellationRequested)
            {
                string why = e is SocketException s ? s.SocketErrorCode.ToString() : "timed out";
                _log.Report("upstream connect", $"connect failed ({why})");
            }
        }
        finally
        {
            _live.TryRemove(guest, out _);
            _live.TryRemove(upstream, out _);
            guest.Dispose();
            upstream.Dispose();
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Length-prefixed queries from the guest, each asked of the upstream as one datagram; bounded in size and time.</summary>
    private async Task ForwardDatagramsAsync(Socket guest)
    {
        var upstream = new Socket(_upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _live[guest] = 0;
        _live[upstream] = 0;
        byte[] buffer = new byte[2 + ushort.MaxValue];
        try
        {
            await upstream.ConnectAsync(_upstream, _stop.Token).ConfigureAwait(false);
            while (!_stop.IsCancellationRequested)
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                cts.CancelAfter(_idleTimeout);
                if (!await ReceiveExactlyAsync(guest, buffer.AsMemory(0, 2), cts.Token).ConfigureAwait(false))
                {
                    return; // the guest is done with this stream
                }
                int length = (buffer[0] << 8) | buffer[1];
                if (length < 12 || !await ReceiveExactlyAsync(guest, buffer.AsMemory(2, length), cts.Token).ConfigureAwait(false))
                {
                    _log.Report("malformed", "a guest query was shorter than a dns header or cut short");
                    return;
                }
                await upstream.SendAsync(buffer.AsMemory(2, length), SocketFlags.None, cts.Token).ConfigureAwait(false);
                int n = await upstream.ReceiveAsync(buffer.AsMemory(2), SocketFlags.None, cts.Token).ConfigureAwait(false);
                buffer[0] = (byte)(n >> 8);
                buffer[1] = (byte)n;
                await guest.SendAsync(buffer.AsMemory(0, 2 + n), SocketFlags.None, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (!_stop.IsCancellationRequested)
            {
                _log.Report("upstream datagram", $"no reply ({(e is SocketException s ? s.SocketErrorCode.ToString() : "timed out")})");
            }
        }
        finally
        {
            _live.TryRemove(guest, out _);
            _live.TryRemove(upstream, out _);
            guest.Dispose();
            upstream.Dispose();
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Fills <paramref name="into"/>; false at a clean end of stream before the first byte.</summary>
    private static async Task<bool> ReceiveExactlyAsync(Socket socket, Memory<byte> into, CancellationToken ct)
    {
        int read = 0;
        while (read < into.Length)
        {
            int n = await socket.ReceiveAsync(into[read..], SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
            {
                return read == 0 ? false : throw new SocketException((int)SocketError.ConnectionReset);
            }
            read += n;
        }
        return true;
    }

    /// <summary>Stops listening, closes every forwarded connection and removes the socket file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stop.Cancel();
        _listener.Dispose();
        foreach (Socket socket in _live.Keys)
        {
            socket.Dispose();
        }
        SocketFile.TryRemove(SocketPath);
    }
}
