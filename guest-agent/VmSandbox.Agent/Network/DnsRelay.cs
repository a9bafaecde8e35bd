using System.Net;
using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Network;

/// <summary>
/// Serves DNS on a guest loopback address (UDP and TCP, port 53) for a name server that only the
/// host side of the container's network namespace reaches: Docker's embedded DNS at 127.0.0.11
/// is an iptables DNAT there, while in the guest 127.0.0.11 is the guest's own loopback
/// (kata-containers#6688). Each UDP query goes to the host over a fresh stream in DNS-over-TCP
/// framing (RFC 1035 §4.2.2) and the reply returns as one datagram, as is (a reply too big for the
/// client carries the upstream's TC bit, and the client retries over TCP). Each TCP client is
/// spliced byte for byte to a fresh host stream. Collaborators: the host's DnsForwarder at the
/// other end of the vsock port, and the network setup, which starts one relay per DnsRelay it is
/// sent. Failures are logged once per kind and never leave this class.
/// </summary>
public sealed class DnsRelay : IDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly Func<CancellationToken, Task<Stream>> _connectToHost;
    private readonly Func<CancellationToken, Task<Stream>> _connectForDatagrams;
    private readonly DnsRelayLimits _limits;
    private readonly OncePerKindLog _log;
    private readonly SemaphoreSlim _queries;
    private readonly SemaphoreSlim _tcpClients;
    private readonly CancellationTokenSource _stop = new();
    private int _disposed;

    private DnsRelay(Socket udp, Socket tcp, Func<CancellationToken, Task<Stream>> connectToHost, Func<CancellationToken, Task<Stream>> connectForDatagrams, DnsRelayLimits limits, OncePerKindLog log)
    {
        _udp = udp;
        _tcp = tcp;
        _connectToHost = connectToHost;
        _connectForDatagrams = connectForDatagrams;
        _limits = limits;
        _log = log;
        _queries = new SemaphoreSlim(limits.MaxQueriesInFlight, limits.MaxQueriesInFlight);
        _tcpClients = new SemaphoreSlim(limits.MaxTcpClients, limits.MaxTcpClients);
        EndPoint = (IPEndPoint)udp.LocalEndPoint!;
    }

    /// <summary>The address and port served, on UDP and TCP alike.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Failures of one kind so far ("connect", "timeout", "host closed", "busy", …).</summary>
    public long Failures(string kind) => _log.Count(kind);

    /// <summary>
    /// Binds <paramref name="listenAddress"/>:<paramref name="port"/> on UDP and TCP and starts
    /// serving. Port 0 picks a free port, the same on both (tests). UDP queries go over
    /// <paramref name="connectForDatagrams"/> when given (the host then asks its upstream over UDP,
    /// as the guest's resolver did: Docker's DNS forwards a query in the protocol it came in),
    /// TCP clients over <paramref name="connectToHost"/>.
    /// </summary>
    public static DnsRelay Start(IPAddress listenAddress, Func<CancellationToken, Task<Stream>> connectToHost, Action<string> log, int port = 53, DnsRelayLimits? limits = null, Func<CancellationToken, Task<Stream>>? connectForDatagrams = null)
    {
        limits ??= new DnsRelayLimits();
        if (limits.MaxQueriesInFlight < 1 || limits.MaxTcpClients < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(limits), "dns relay limits must allow at least one query and one tcp client");
        }
        for (int attempt = 0; ; attempt++)
        {
            var udp = new Socket(listenAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            var tcp = new Socket(listenAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                udp.Bind(new IPEndPoint(listenAddress, port));
                int bound = ((IPEndPoint)udp.LocalEndPoint!).Port;
                tcp.Bind(new IPEndPoint(listenAddress, bound));
                tcp.Listen(limits.MaxTcpClients);
                var relay = new DnsRelay(udp, tcp, connectToHost, connectForDatagrams ?? connectToHost, limits, new OncePerKindLog(log, $"dns relay {listenAddress}:{bound}"));
                _ = relay.ServeUdpAsync();
                _ = relay.ServeTcpAsync();
                return relay;
            }
            catch (SocketException e)
            {
                udp.Dispose();
                tcp.Dispose();
                // Port 0: the free UDP port may be taken on TCP; another pick will do.
                if (port == 0 && e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 8)
                {
                    continue;
                }
                throw new VmSandboxException(ErrorCode.System, $"dns relay on {listenAddress} port {port}: bind", e);
            }
        }
    }

    /// <summary>The production host: a vsock stream to the host (CID 2) on <paramref name="hostPort"/>.</summary>
    public static Func<CancellationToken, Task<Stream>> VsockHost(uint hostPort) =>
        ct => Task.Run<Stream>(() => new RawFdStream(Vsock.Connect(Vsock.VMADDR_CID_HOST, hostPort)), ct);

    private async Task ServeUdpAsync()
    {
        byte[] buffer = new byte[DnsTcpFraming.MaxMessageSize];
        EndPoint anyPeer = new IPEndPoint(EndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, anyPeer, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Report("receive", $"udp receive failed ({e.SocketErrorCode})");
                await PauseAsync().ConfigureAwait(false);
                continue;
            }
            if (received.ReceivedBytes < DnsTcpFraming.HeaderSize)
            {
                _log.Report("malformed", $"dropped a {received.ReceivedBytes}-byte datagram: shorter than a dns header");
                continue;
            }
            if (!_queries.Wait(0))
            {
                _log.Report("busy", $"dropped a query: {_limits.MaxQueriesInFlight} already in flight");
                continue;
            }
            byte[] query = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            _ = RelayUdpAsync(query, received.RemoteEndPoint);
        }
    }

    private async Task RelayUdpAsync(byte[] query, EndPoint client)
    {
        try
        {
            byte[]? reply = await ExchangeAsync(query).ConfigureAwait(false);
            if (reply is null)
            {
                return;
            }
            try
            {
                await _udp.SendToAsync(reply, SocketFlags.None, client, _stop.Token).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                // EMSGSIZE: a reply over 65507 bytes fits no datagram; the client times out and retries.
                _log.Report("send", $"udp reply of {reply.Length} bytes not sent ({e.SocketErrorCode})");
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // Disposed while sending.
        }
        finally
        {
            _queries.Release();
        }
    }

    /// <summary>One query over a fresh host stream; null (after logging) when no reply came.</summary>
    private async Task<byte[]?> ExchangeAsync(byte[] query)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        cts.CancelAfter(_limits.QueryTimeout);
        string step = "connect";
        try
        {
            Stream stream = await ConnectAsync(_connectForDatagrams, cts.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                // Host streams whose reads do not watch the token (vsock fds) wake when disposed.
                using CancellationTokenRegistration registration = cts.Token.Register(stream.Dispose);
                step = "write";
                await DnsTcpFraming.WriteAsync(stream, query, cts.Token).ConfigureAwait(false);
                step = "read";
                byte[]? reply = await DnsTcpFraming.ReadAsync(stream, cts.Token).ConfigureAwait(false);
                if (reply is null)
                {
                    _log.Report("host closed", "the host closed a query's stream without a reply");
                    return null;
                }
                if (reply.Length < DnsTcpFraming.HeaderSize)
                {
                    _log.Report("malformed", $"dropped a {reply.Length}-byte reply: shorter than a dns header");
                    return null;
                }
                return reply;
            }
        }
        catch (Exception e)
        {
            if (_stop.IsCancellationRequested)
            {
                return null;
            }
            if (cts.IsCancellationRequested)
            {
                _log.Report("timeout", $"no reply from the host within {_limits.QueryTimeout.TotalSeconds:0.###}s");
            }
            else if (e is EndOfStreamException)
            {
                _log.Report("host closed", "the host closed a query's stream inside the reply");
            }
            else
            {
                _log.Report(step, $"{step} to the host failed ({e.GetType().Name}: {e.Message})");
            }
            return null;
        }
    }

    private async Task ServeTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _tcp.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Report("accept", $"tcp accept failed ({e.SocketErrorCode})");
                await PauseAsync().ConfigureAwait(false);
                continue;
            }
            if (!_tcpClients.Wait(0))
            {
                _log.Report("busy", $"closed a tcp client: {_limits.MaxTcpClients} already connected");
                client.Dispose();
                continue;
            }
            _ = SpliceTcpAsync(client);
        }
    }

    private async Task SpliceTcpAsync(Socket client)
    {
        var clientStream = new NetworkStream(client, ownsSocket: true);
        try
        {
            Stream host;
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                cts.CancelAfter(_limits.QueryTimeout);
                host = await ConnectAsync(_connectToHost, cts.Token).ConfigureAwait(false);
            }
            await StreamSplice.RunAsync(clientStream, host, _limits.TcpIdleTimeout, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (!_stop.IsCancellationRequested)
            {
                _log.Report("connect", $"connect to the host for a tcp client failed ({e.GetType().Name}: {e.Message})");
            }
        }
        finally
        {
            await clientStream.DisposeAsync().ConfigureAwait(false);
            _tcpClients.Release();
        }
    }

    /// <summary>
    /// The injected connect, bounded by <paramref name="ct"/> even when it ignores it (a blocking
    /// vsock connect); a stream that arrives after the deadline is closed, not leaked.
    /// </summary>
    private static async Task<Stream> ConnectAsync(Func<CancellationToken, Task<Stream>> connect, CancellationToken ct)
    {
        Task<Stream> connecting;
        try
        {
            connecting = connect(ct);
        }
        catch (Exception e)
        {
            connecting = Task.FromException<Stream>(e);
        }
        try
        {
            return await connecting.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _ = connecting.ContinueWith(
                static t =>
                {
                    if (t.IsCompletedSuccessfully)
                    {
                        t.Result.Dispose();
                    }
                    else
                    {
                        _ = t.Exception; // observed: no UnobservedTaskException
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>After a failed receive or accept: no busy loop on a socket that keeps failing.</summary>
    private async Task PauseAsync()
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops serving: closes both sockets and every host stream still open.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stop.Cancel();
        _udp.Dispose();
        _tcp.Dispose();
        // _stop, _queries and _tcpClients stay for the queries that are still unwinding; they
        // hold no kernel handle.
    }
}
