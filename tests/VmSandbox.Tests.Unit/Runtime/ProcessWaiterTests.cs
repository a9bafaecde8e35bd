using System.Net.Sockets;
using System.Text;
using VmSandbox.Agent.Protocol;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Tests.Unit.Ttrpc;
using VmSandbox.Ttrpc;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// The monitor's and exec relay's wait: a broken agent connection is replaced (through the
/// sandbox's hybrid vsock socket, here a fake one) and the exit status still arrives; an agent
/// that is really gone ends the wait with an error after a bounded number of tries.
/// </summary>
public sealed class ProcessWaiterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_broken_connection_costs_a_retry_not_the_exit_status()
    {
        string runDir = Directory.CreateTempSubdirectory("vmsb-wait-").FullName;
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(runDir, VmSandbox.Runtime.Vsock.HybridVsockTransport.UdsFileName)));
        listener.Listen(4);
        var server = new TtrpcServer();
        new ExitedAgent().Register(server);
        Task serving = ServeHybridAsync(listener, server);
        // The first connection's peer is gone: every call on it fails as a lost connection.
        var (left, right) = SocketPair.CreateStreams();
        await right.DisposeAsync();
        await using var broken = new TtrpcClient(left);
        var lines = new List<string>();
        try
        {
            WaitProcessResponse exit = await ProcessWaiter.UntilExitAsync(new AgentClient(broken), runDir, "c1", "e1", () => false, lines.Add, Ct)
                .WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(7, exit.ExitCode);
            Assert.Contains(lines, l => l.Contains("exec e1 in container c1", StringComparison.Ordinal) && l.Contains("new connection (1/3)", StringComparison.Ordinal));
        }
        finally
        {
            listener.Close();
            Directory.Delete(runDir, recursive: true);
        }
    }

    [Fact]
    public async Task An_agent_that_is_gone_ends_the_wait_after_bounded_retries()
    {
        string runDir = Directory.CreateTempSubdirectory("vmsb-wait-").FullName; // no socket: nothing to reconnect to
        var (left, right) = SocketPair.CreateStreams();
        await right.DisposeAsync();
        await using var broken = new TtrpcClient(left);
        var lines = new List<string>();
        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => ProcessWaiter.UntilExitAsync(new AgentClient(broken), runDir, "c1", "", () => false, lines.Add, Ct)
                .WaitAsync(TimeSpan.FromSeconds(90), Ct));
            Assert.Equal(ProcessWaiter.MaxReconnects, lines.Count(l => l.Contains("asking again", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_sandbox_known_to_be_gone_is_not_asked_again()
    {
        string runDir = Directory.CreateTempSubdirectory("vmsb-wait-").FullName;
        var (left, right) = SocketPair.CreateStreams();
        await right.DisposeAsync();
        await using var broken = new TtrpcClient(left);
        var lines = new List<string>();
        try
        {
            var e = await Assert.ThrowsAsync<TtrpcException>(() => ProcessWaiter.UntilExitAsync(new AgentClient(broken), runDir, "c1", "", () => true, lines.Add, Ct)
                .WaitAsync(TimeSpan.FromSeconds(10), Ct));
            Assert.Equal(StatusCode.Unavailable, e.Status);
            Assert.Empty(lines);
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    /// <summary>The hybrid vsock handshake ("CONNECT 1024\n" → "OK …\n"), then ttrpc.</summary>
    private static async Task ServeHybridAsync(Socket listener, TtrpcServer server)
    {
        try
        {
            while (true)
            {
                Socket s = await listener.AcceptAsync();
                var stream = new NetworkStream(s, ownsSocket: true);
                var line = new StringBuilder();
                var one = new byte[1];
                while (await stream.ReadAsync(one) == 1 && one[0] != '\n')
                {
                    line.Append((char)one[0]);
                }
                Assert.Equal($"CONNECT {AgentApi.VsockPort}", line.ToString());
                await stream.WriteAsync("OK 1073741824\n"u8.ToArray());
                _ = server.ServeConnectionAsync(stream);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The test closed the listener.
        }
    }

    private sealed class ExitedAgent : AgentServiceBase
    {
        public override ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, TtrpcCallContext context) =>
            ValueTask.FromResult(new WaitProcessResponse { ExitCode = 7 });
    }
}
