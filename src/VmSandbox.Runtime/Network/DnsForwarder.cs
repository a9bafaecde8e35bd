using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Common;

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
    private readonly int _maxConnections;
    private readonly TimeSpan _idleTimeout;
    private readonly OncePerKindLog _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _live = new();
    private int _active;
    private int _disposed;

    private DnsForwarder(Socket listener, string socketPath, IPEndPoint upstream, int maxConnections, TimeSpan idleTimeout, OncePerKindLog log)
    {
        _listener = listener;
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
    /// socket <paramref name="udsPath"/> and forwards each to <paramref name="upstream"/>.
    /// </summary>
    public static DnsForwarder Start(string udsPath, uint port, IPEndPoint upstream, Action<string> log, int maxConnections = DefaultMaxConnections, TimeSpan? idleTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        string path = $"{udsPath}_{port}";
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(maxConnections);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            listener.Dispose();
            throw new VmSandboxException(ErrorCode.System, $"dns forwarder for vsock port {port}: listen on {path}", e);
        }
        var forwarder = new DnsForwarder(listener, path, upstream, maxConnections, idleTimeout ?? DefaultIdleTimeout,
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
        File.Delete(SocketPath);
    }
}
