using VmSandbox.Agent.Protocol;
using VmSandbox.Runtime.Vsock;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A CLI call's own connection to a sandbox's guest agent: through the sandbox's hybrid vsock
/// socket in its run directory ("CONNECT 1024"). The agent serves any number of connections, so
/// `start`, `kill`, `exec`, … need no detour through the monitor.
/// </summary>
public sealed class AgentConnection : IAsyncDisposable
{
    private readonly TtrpcClient _ttrpc;

    private AgentConnection(TtrpcClient ttrpc)
    {
        _ttrpc = ttrpc;
        Agent = new AgentClient(ttrpc);
    }

    public AgentClient Agent { get; }

    public static async Task<AgentConnection> ConnectAsync(string runDir, CancellationToken ct)
    {
        string uds = Path.Combine(runDir, Vsock.HybridVsockTransport.UdsFileName);
        System.Net.Sockets.Socket socket = await HybridVsockConnector.ConnectAsync(uds, AgentApi.VsockPort, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10), ct);
        return new AgentConnection(new TtrpcClient(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true)));
    }

    public ValueTask DisposeAsync() => _ttrpc.DisposeAsync();
}
