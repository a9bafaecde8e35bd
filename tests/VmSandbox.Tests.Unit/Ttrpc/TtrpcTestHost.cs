using System.Collections.Concurrent;
using System.Net.Sockets;
using VmSandbox.Ttrpc;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>A <see cref="TtrpcServer"/> serving one end of a socket pair, a client on the other.</summary>
internal sealed class TtrpcTestHost : IAsyncDisposable
{
    private TtrpcTestHost(TtrpcServer server, NetworkStream serverStream, TtrpcClient client)
    {
        Server = server;
        ServerStream = serverStream;
        Client = client;
        Server.ConnectionError = e => ConnectionErrors.Enqueue(e);
        Serving = server.ServeConnectionAsync(serverStream);
    }

    public TtrpcServer Server { get; }

    public NetworkStream ServerStream { get; }

    public TtrpcClient Client { get; }

    public Task Serving { get; }

    public ConcurrentQueue<Exception> ConnectionErrors { get; } = new();

    public static TtrpcTestHost Start(Action<TtrpcServer> register, TtrpcClientOptions? options = null)
    {
        var server = new TtrpcServer();
        register(server);
        var (left, right) = SocketPair.CreateStreams();
        return new TtrpcTestHost(server, right, new TtrpcClient(left, options));
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Serving.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
