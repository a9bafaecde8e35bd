using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using VmSandbox.TestSupport.Containerd.Cri.V1;

namespace VmSandbox.TestSupport.Containerd.Cri;

/// <summary>
/// What a kubelet holds: a gRPC channel to containerd's CRI plugin over its unix socket (HTTP/2
/// without TLS; every connection is a fresh connect of that socket, the address is only the
/// :authority), and the runtime and image service clients generated from Cri/runtime_v1.proto.
/// Every call carries a deadline, so a hung runtime fails the call instead of the test run.
/// GrpcChannel.ConnectAsync is never called: with a ConnectCallback it throws (grpc-dotnet#2428).
/// </summary>
public sealed class CriClient : IDisposable
{
    /// <summary>A call that may boot a VM under TCG or wait for a stop timeout.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(3);

    private readonly GrpcChannel _channel;
    private readonly Func<CancellationToken> _cancellation;

    /// <param name="cancellation">Read at each call: what ends it before its deadline (a test's token).</param>
    public CriClient(string socketPath, Func<CancellationToken> cancellation)
    {
        _cancellation = cancellation;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);
        Images = new ImageService.ImageServiceClient(_channel);
    }

    public RuntimeService.RuntimeServiceClient Runtime { get; }

    public ImageService.ImageServiceClient Images { get; }

    /// <summary>Call options with a deadline <paramref name="timeout"/> (default <see cref="CallTimeout"/>) from now.</summary>
    public CallOptions Deadline(TimeSpan? timeout = null) =>
        new(deadline: DateTime.UtcNow + (timeout ?? CallTimeout), cancellationToken: _cancellation());

    public void Dispose() => _channel.Dispose();
}
