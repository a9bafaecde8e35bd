using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Runtime.Network;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime.Network;

/// <summary>The host's DNS forwarder between a Unix socket (the guest's side) and a fake TCP name server.</summary>
public sealed class DnsForwarderTests : IDisposable
{
    private const uint Port = 1053;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-dns-").FullName;
    private readonly FakeDnsUpstream _upstream = new();
    private readonly ConcurrentQueue<string> _logs = new();

    private string UdsPath => Path.Combine(_dir, "vsock");

    private DnsForwarder Start(int maxConnections = DnsForwarder.DefaultMaxConnections, TimeSpan? idle = null, IPEndPoint? upstream = null) =>
        DnsForwarder.Start(UdsPath, Port, upstream ?? _upstream.EndPoint, _logs.Enqueue, maxConnections, idle);

    /// <summary>What our vsock device does for a guest connection to host port <see cref="Port"/>.</summary>
    private async Task<NetworkStream> ConnectAsGuestAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint($"{UdsPath}_{Port}"));
        return new NetworkStream(socket, ownsSocket: true);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(s_wait);
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    /// <summary>True when the peer closed: EOF or reset, within the wait.</summary>
    private static async Task<bool> ClosedAsync(Stream stream)
    {
        using var cts = new CancellationTokenSource(s_wait);
        try
        {
            return await stream.ReadAsync(new byte[1], cts.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    [Theory]
    [InlineData(40)]
    [InlineData(0)]
    [InlineData(65535 - 29)] // the largest message the framing carries, past the splice's buffer
    public async Task A_framed_query_from_the_guest_gets_the_upstreams_framed_reply(int padding)
    {
        _upstream.ReplyPadding = padding;
        using DnsForwarder forwarder = Start();
        Assert.Equal($"{UdsPath}_{Port}", forwarder.SocketPath);
        await using NetworkStream guest = await ConnectAsGuestAsync();
        using var cts = new CancellationTokenSource(s_wait);

        byte[] query = FakeDnsUpstream.Query(0xBEEF, "example.com");
        await guest.WriteAsync(FakeDnsUpstream.Frame(query), cts.Token);

        Assert.Equal(FakeDnsUpstream.ReplyTo(query, padding), await FakeDnsUpstream.ReadFramedAsync(guest, cts.Token));
        Assert.True(_upstream.Queries.TryDequeue(out byte[]? seen));
        Assert.Equal(query, seen);
    }

    [Fact]
    public async Task Several_queries_share_one_connection_in_order()
    {
        using DnsForwarder forwarder = Start();
        await using NetworkStream guest = await ConnectAsGuestAsync();
        using var cts = new CancellationTokenSource(s_wait);
        byte[][] queries = [.. Enumerable.Range(1, 5).Select(i => FakeDnsUpstream.Query((ushort)i, $"n{i}.example"))];
        foreach (byte[] q in queries)
        {
            await guest.WriteAsync(FakeDnsUpstream.Frame(q), cts.Token);
        }
        foreach (byte[] q in queries)
        {
            Assert.Equal(FakeDnsUpstream.ReplyTo(q, 40), await FakeDnsUpstream.ReadFramedAsync(guest, cts.Token));
        }
        Assert.Equal(1, _upstream.Connections);
    }

    [Fact]
    public async Task A_guest_that_half_closes_after_its_query_still_gets_the_reply()
    {
        using DnsForwarder forwarder = Start();
        await using NetworkStream guest = await ConnectAsGuestAsync();
        using var cts = new CancellationTokenSource(s_wait);
        byte[] query = FakeDnsUpstream.Query(3, "example.com");
        await guest.WriteAsync(FakeDnsUpstream.Frame(query), cts.Token);
        guest.Socket.Shutdown(SocketShutdown.Send);

        Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await FakeDnsUpstream.ReadFramedAsync(guest, cts.Token));
        Assert.True(await ClosedAsync(guest));
        await WaitUntilAsync(() => forwarder.ActiveConnections == 0);
    }

    [Fact]
    public async Task Connections_past_the_limit_are_closed_at_once_and_slots_come_back()
    {
        using DnsForwarder forwarder = Start(maxConnections: 2);
        using var cts = new CancellationTokenSource(s_wait);
        var open = new List<NetworkStream>();
        for (ushort i = 1; i <= 2; i++)
        {
            NetworkStream guest = await ConnectAsGuestAsync();
            open.Add(guest);
            byte[] query = FakeDnsUpstream.Query(i, "example.com");
            await guest.WriteAsync(FakeDnsUpstream.Frame(query), cts.Token);
            Assert.NotNull(await FakeDnsUpstream.ReadFramedAsync(guest, cts.Token));
        }
        Assert.Equal(2, forwarder.ActiveConnections);

        await using (NetworkStream third = await ConnectAsGuestAsync())
        {
            Assert.True(await ClosedAsync(third));
        }
        Assert.Equal(1, forwarder.Failures("busy"));
        Assert.Equal(2, _upstream.Connections);

        await open[0].DisposeAsync();
        await WaitUntilAsync(() => forwarder.ActiveConnections == 1);
        await using NetworkStream fourth = await ConnectAsGuestAsync();
        byte[] last = FakeDnsUpstream.Query(4, "example.com");
        await fourth.WriteAsync(FakeDnsUpstream.Frame(last), cts.Token);
        Assert.Equal(FakeDnsUpstream.ReplyTo(last, 40), await FakeDnsUpstream.ReadFramedAsync(fourth, cts.Token));
        await open[1].DisposeAsync();
    }

    [Fact]
    public async Task An_idle_connection_is_closed_on_both_sides()
    {
        using DnsForwarder forwarder = Start(idle: TimeSpan.FromMilliseconds(200));
        await using NetworkStream guest = await ConnectAsGuestAsync();
        await WaitUntilAsync(() => _upstream.Connections == 1);

        Assert.True(await ClosedAsync(guest));
        await WaitUntilAsync(() => forwarder.ActiveConnections == 0 && _upstream.Open == 0);
    }

    [Fact]
    public async Task A_guest_that_trickles_is_not_idle()
    {
        using DnsForwarder forwarder = Start(idle: TimeSpan.FromSeconds(1));
        await using NetworkStream guest = await ConnectAsGuestAsync();
        using var cts = new CancellationTokenSource(s_wait);
        byte[] frame = FakeDnsUpstream.Frame(FakeDnsUpstream.Query(5, "slow.example"));
        foreach (byte b in frame)
        {
            await guest.WriteAsync(new[] { b }, cts.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(50), cts.Token); // 31 bytes: longer than the idle timeout in all
        }
        Assert.NotNull(await FakeDnsUpstream.ReadFramedAsync(guest, cts.Token));
    }

    [Fact]
    public async Task An_unreachable_upstream_closes_the_guests_connection_and_is_logged_once()
    {
        var dead = new IPEndPoint(IPAddress.Loopback, FreeTcpPort());
        using DnsForwarder forwarder = Start(upstream: dead);
        for (int i = 0; i < 3; i++)
        {
            await using NetworkStream guest = await ConnectAsGuestAsync();
            Assert.True(await ClosedAsync(guest));
        }
        await WaitUntilAsync(() => forwarder.Failures("upstream connect") == 3);
        Assert.Single(_logs);
        Assert.Contains("ConnectionRefused", _logs.Single(), StringComparison.Ordinal);
        await WaitUntilAsync(() => forwarder.ActiveConnections == 0);
    }

    [Fact]
    public async Task Dispose_removes_the_socket_and_closes_live_connections()
    {
        DnsForwarder forwarder = Start();
        Assert.True(File.Exists(forwarder.SocketPath));
        await using NetworkStream guest = await ConnectAsGuestAsync();
        using var cts = new CancellationTokenSource(s_wait);
        byte[] query = FakeDnsUpstream.Query(6, "example.com");
        await guest.WriteAsync(FakeDnsUpstream.Frame(query), cts.Token);
        Assert.NotNull(await FakeDnsUpstream.ReadFramedAsync(guest, cts.Token));

        forwarder.Dispose();
        forwarder.Dispose();

        Assert.False(File.Exists(forwarder.SocketPath));
        Assert.True(await ClosedAsync(guest));
        await WaitUntilAsync(() => _upstream.Open == 0 && forwarder.ActiveConnections == 0);
        var again = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using (again)
        {
            await Assert.ThrowsAsync<SocketException>(async () => await again.ConnectAsync(new UnixDomainSocketEndPoint(forwarder.SocketPath), TestContext.Current.CancellationToken));
        }
        Assert.Empty(_logs);
    }

    [Fact]
    public void A_socket_path_in_use_is_an_error_naming_port_and_path()
    {
        using DnsForwarder first = Start();
        var e = Assert.Throws<VmSandboxException>(() => Start());
        Assert.Equal($"dns forwarder for vsock port {Port}: listen on {UdsPath}_{Port}", e.Message);
        Assert.True(File.Exists(first.SocketPath));
    }

    private static int FreeTcpPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _upstream.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
