using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net.Sockets;

namespace VmSandbox.Ttrpc;

/// <summary>
/// A ttrpc server (server.go): services are registered up front, then it serves any number of
/// connections (<see cref="ServeAsync(Socket, CancellationToken)"/> for a listening socket,
/// <see cref="ServeConnectionAsync"/> for one connected stream, e.g. a vsock or Unix socket).
/// Each connection runs in a <see cref="TtrpcServerConnection"/>, which handles its calls
/// concurrently. Unary calls only, as in ttrpc 1.1.1 which containerd 1.6 uses.
/// </summary>
public sealed class TtrpcServer
{
    private static readonly TimeSpan s_acceptBackoff = TimeSpan.FromMilliseconds(100);

    private readonly object _registerLock = new();
    private volatile FrozenDictionary<string, FrozenDictionary<string, TtrpcMethodHandler>> _services =
        FrozenDictionary<string, FrozenDictionary<string, TtrpcMethodHandler>>.Empty;

    /// <summary>
    /// Called with what ended a connection abnormally (a protocol violation, an I/O error), for
    /// logging. Connection errors never escape <see cref="ServeAsync(Socket, CancellationToken)"/>.
    /// </summary>
    public Action<Exception>? ConnectionError { get; set; }

    /// <summary>Registers a service; a later registration of the same name replaces it.</summary>
    public void RegisterService(string serviceName, Action<TtrpcServiceBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new TtrpcServiceBuilder(serviceName);
        configure(builder);
        lock (_registerLock)
        {
            var services = new Dictionary<string, FrozenDictionary<string, TtrpcMethodHandler>>(_services, StringComparer.Ordinal)
            {
                [serviceName] = builder.Methods.ToFrozenDictionary(StringComparer.Ordinal),
            };
            _services = services.ToFrozenDictionary(StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// Accepts connections on <paramref name="listener"/> and serves each until the peer
    /// closes it. Returns when <paramref name="cancellationToken"/> fires (then it closes the
    /// open connections and waits for them) or the listener is closed.
    /// </summary>
    public async Task ServeAsync(Socket listener, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var connections = new ConcurrentDictionary<Task, bool>();
        try
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(cancellationToken);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException
                    || (e is SocketException s && s.SocketErrorCode == SocketError.OperationAborted))
                {
                    break;
                }
                catch (SocketException e)
                {
                    // accept(2) fails transiently (ECONNABORTED, EMFILE): report, back off, go on.
                    ConnectionError?.Invoke(e);
                    try
                    {
                        await Task.Delay(s_acceptBackoff, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                    continue;
                }
                Task connection = ServeConnectionAsync(new NetworkStream(socket, ownsSocket: true), cancellationToken);
                connections[connection] = true;
                _ = connection.ContinueWith(
                    static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _),
                    connections, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        finally
        {
            await Task.WhenAll(connections.Keys);
        }
    }

    /// <summary>
    /// Serves one connection until the peer closes it or <paramref name="cancellationToken"/>
    /// fires, then cancels its calls still running, waits for them and disposes
    /// <paramref name="stream"/>. Never throws for what the peer sends: errors go to
    /// <see cref="ConnectionError"/>.
    /// </summary>
    public async Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        await using var connection = new TtrpcServerConnection(this, stream);
        await connection.RunAsync(cancellationToken);
    }

    internal TtrpcMethodHandler? FindMethod(string service, string method, out bool serviceExists)
    {
        serviceExists = _services.TryGetValue(service, out var methods);
        return methods is not null && methods.TryGetValue(method, out var handler) ? handler : null;
    }
}
