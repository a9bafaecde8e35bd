using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Agent.Network;
using VmSandbox.Tests.Unit.Runtime.Network;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent.Network;

/// <summary>
/// The guest's DNS relay on 127.0.0.1 with a free port; its "host" is a fake name server over
/// loopback TCP (never AF_VSOCK on this machine).
/// </summary>
public sealed class DnsRelayTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_silence = TimeSpan.FromMilliseconds(500);

    private readonly FakeDnsUpstream _host = new();
    private readonly ConcurrentQueue<string> _logs = new();

    private DnsRelay Start(Func<CancellationToken, Task<Stream>>? connect = null, DnsRelayLimits? limits = null) =>
        DnsRelay.Start(IPAddress.Loopback, connect ?? _host.ConnectAsync, _logs.Enqueue, port: 0, limits: limits);

    private static async Task<byte[]?> AskUdpAsync(IPEndPoint relay, byte[] query, TimeSpan wait)
    {
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        udp.Connect(relay);
        await udp.SendAsync(query);
        using var cts = new CancellationTokenSource(wait);
        try
        {
            return (await udp.ReceiveAsync(cts.Token)).Buffer;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(s_wait);
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    [Theory]
    [InlineData("example.com", 40)]
    [InlineData("a.b.c.d.e.f.g.h.example.org", 0)]
    [InlineData("big.example.net", 4000)] // past UDP's classic 512: passed as is
    public async Task A_udp_query_gets_the_hosts_reply_intact(string name, int padding)
    {
        _host.ReplyPadding = padding;
        using DnsRelay relay = Start();
        byte[] query = FakeDnsUpstream.Query(0x1234, name);

        byte[]? reply = await AskUdpAsync(relay.EndPoint, query, s_wait);

        Assert.Equal(FakeDnsUpstream.ReplyTo(query, padding), reply);
        Assert.True(_host.Queries.TryDequeue(out byte[]? seen));
        Assert.Equal(query, seen);
        Assert.Equal(1, _host.Connections);
    }

    [Fact]
    public async Task Each_udp_query_takes_a_fresh_host_stream_and_the_stream_is_closed()
    {
        using DnsRelay relay = Start();
        for (ushort id = 1; id <= 3; id++)
        {
            byte[] query = FakeDnsUpstream.Query(id, "example.com");
            Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await AskUdpAsync(relay.EndPoint, query, s_wait));
        }
        Assert.Equal(3, _host.Connections);
        await WaitUntilAsync(() => _host.Open == 0);
    }

    [Fact]
    public async Task A_tcp_client_is_spliced_to_the_host_both_ways()
    {
        using DnsRelay relay = Start();
        using var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(relay.EndPoint, TestContext.Current.CancellationToken);
        NetworkStream stream = client.GetStream();
        using var cts = new CancellationTokenSource(s_wait);

        // Two queries on one connection, the second sent before the first is read.
        byte[] first = FakeDnsUpstream.Query(7, "one.example");
        byte[] second = FakeDnsUpstream.Query(8, "two.example");
        await stream.WriteAsync(FakeDnsUpstream.Frame(first), cts.Token);
        await stream.WriteAsync(FakeDnsUpstream.Frame(second), cts.Token);

        Assert.Equal(FakeDnsUpstream.ReplyTo(first, 40), await FakeDnsUpstream.ReadFramedAsync(stream, cts.Token));
        Assert.Equal(FakeDnsUpstream.ReplyTo(second, 40), await FakeDnsUpstream.ReadFramedAsync(stream, cts.Token));
        Assert.Equal(1, _host.Connections);
    }

    [Fact]
    public async Task A_tcp_client_that_half_closes_after_its_query_still_gets_the_reply()
    {
        using DnsRelay relay = Start();
        using var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(relay.EndPoint, TestContext.Current.CancellationToken);
        NetworkStream stream = client.GetStream();
        using var cts = new CancellationTokenSource(s_wait);
        byte[] query = FakeDnsUpstream.Query(9, "half.example");
        await stream.WriteAsync(FakeDnsUpstream.Frame(query), cts.Token);
        client.Client.Shutdown(SocketShutdown.Send);

        Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await FakeDnsUpstream.ReadFramedAsync(stream, cts.Token));
    }

    [Fact]
    public async Task A_host_that_cannot_be_reached_gives_no_reply_is_logged_once_and_the_relay_keeps_serving()
    {
        bool fail = true;
        using DnsRelay relay = Start(ct => Volatile.Read(ref fail) ? throw new IOException("connect(AF_VSOCK): ECONNRESET") : _host.ConnectAsync(ct));

        for (ushort id = 1; id <= 3; id++)
        {
            Assert.Null(await AskUdpAsync(relay.EndPoint, FakeDnsUpstream.Query(id, "example.com"), s_silence));
        }
        Assert.Equal(3, relay.Failures("connect"));
        Assert.Single(_logs, l => l.Contains("connect", StringComparison.Ordinal));

        Volatile.Write(ref fail, false);
        byte[] query = FakeDnsUpstream.Query(4, "example.com");
        Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await AskUdpAsync(relay.EndPoint, query, s_wait));
    }

    [Fact]
    public async Task A_connect_that_fails_asynchronously_gives_no_reply()
    {
        using DnsRelay relay = Start(async ct =>
        {
            await Task.Delay(10, ct);
            throw new IOException("refused");
        });
        Assert.Null(await AskUdpAsync(relay.EndPoint, FakeDnsUpstream.Query(1, "example.com"), s_silence));
        Assert.Equal(1, relay.Failures("connect"));
    }

    [Theory]
    [InlineData(FakeDnsUpstream.Mode.CloseAfterQuery)]
    [InlineData(FakeDnsUpstream.Mode.CloseMidReply)]
    public async Task A_host_that_closes_early_gives_no_reply_and_the_relay_keeps_serving(FakeDnsUpstream.Mode mode)
    {
        using DnsRelay relay = Start();
        _host.Behavior = mode;
        Assert.Null(await AskUdpAsync(relay.EndPoint, FakeDnsUpstream.Query(1, "example.com"), s_silence));
        Assert.Equal(1, relay.Failures("host closed"));

        _host.Behavior = FakeDnsUpstream.Mode.Answer;
        byte[] query = FakeDnsUpstream.Query(2, "example.com");
        Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await AskUdpAsync(relay.EndPoint, query, s_wait));
    }

    [Fact]
    public async Task A_query_past_its_deadline_is_dropped_and_its_host_stream_closed()
    {
        using DnsRelay relay = Start(limits: new DnsRelayLimits { QueryTimeout = TimeSpan.FromMilliseconds(200) });
        _host.Behavior = FakeDnsUpstream.Mode.Hold;

        Assert.Null(await AskUdpAsync(relay.EndPoint, FakeDnsUpstream.Query(1, "slow.example"), TimeSpan.FromSeconds(1)));
        Assert.Equal(1, relay.Failures("timeout"));
        await WaitUntilAsync(() => _host.Open == 0);
    }

    [Fact]
    public async Task A_connect_that_never_finishes_is_bounded_by_the_deadline_and_its_late_stream_closed()
    {
        var late = new TaskCompletionSource<Stream>(TaskCreationOptions.RunContinuationsAsynchronously);
        using DnsRelay relay = Start(_ => late.Task, new DnsRelayLimits { QueryTimeout = TimeSpan.FromMilliseconds(200) });

        Assert.Null(await AskUdpAsync(relay.EndPoint, FakeDnsUpstream.Query(1, "example.com"), TimeSpan.FromSeconds(1)));
        Assert.Equal(1, relay.Failures("timeout"));

        var stream = new TrackingStream();
        late.SetResult(stream);
        await WaitUntilAsync(() => stream.Disposed);
    }

    [Fact]
    public async Task At_most_the_limit_of_udp_queries_wait_for_the_host_and_the_rest_are_dropped()
    {
        const int Limit = 4;
        using DnsRelay relay = Start(limits: new DnsRelayLimits { MaxQueriesInFlight = Limit });
        _host.Behavior = FakeDnsUpstream.Mode.Hold;
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        udp.Connect(relay.EndPoint);

        for (ushort id = 1; id <= 10; id++)
        {
            await udp.SendAsync(FakeDnsUpstream.Query(id, "example.com"), TestContext.Current.CancellationToken);
        }
        await WaitUntilAsync(() => _host.Queries.Count == Limit && relay.Failures("busy") == 10 - Limit);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal(Limit, _host.Connections);
        Assert.Equal(Limit, _host.MaxOpen);

        _host.Behavior = FakeDnsUpstream.Mode.Answer;
        _host.ReleaseHeld();
        var ids = new HashSet<int>();
        using var cts = new CancellationTokenSource(s_wait);
        for (int i = 0; i < Limit; i++)
        {
            byte[] reply = (await udp.ReceiveAsync(cts.Token)).Buffer;
            ids.Add((reply[0] << 8) | reply[1]);
        }
        Assert.Equal(new[] { 1, 2, 3, 4 }, ids.Order());

        // The slots are free again.
        byte[] query = FakeDnsUpstream.Query(11, "example.com");
        Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await AskUdpAsync(relay.EndPoint, query, s_wait));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(11)]
    public async Task A_datagram_shorter_than_a_dns_header_is_dropped_without_asking_the_host(int length)
    {
        using DnsRelay relay = Start();
        Assert.Null(await AskUdpAsync(relay.EndPoint, new byte[length], s_silence));
        Assert.Equal(0, _host.Connections);

        byte[] query = FakeDnsUpstream.Query(2, "example.com");
        Assert.Equal(FakeDnsUpstream.ReplyTo(query, 40), await AskUdpAsync(relay.EndPoint, query, s_wait));
    }

    [Fact]
    public async Task Tcp_clients_past_the_limit_are_closed_at_once()
    {
        using DnsRelay relay = Start(limits: new DnsRelayLimits { MaxTcpClients = 1 });
        using var first = new TcpClient(AddressFamily.InterNetwork);
        await first.ConnectAsync(relay.EndPoint, TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(s_wait);
        byte[] query = FakeDnsUpstream.Query(1, "example.com");
        await first.GetStream().WriteAsync(FakeDnsUpstream.Frame(query), cts.Token);
        Assert.NotNull(await FakeDnsUpstream.ReadFramedAsync(first.GetStream(), cts.Token));

        using var second = new TcpClient(AddressFamily.InterNetwork);
        await second.ConnectAsync(relay.EndPoint, TestContext.Current.CancellationToken);
        Assert.Null(await FakeDnsUpstream.ReadFramedAsync(second.GetStream(), cts.Token));
        Assert.Equal(1, relay.Failures("busy"));
    }

    [Fact]
    public async Task An_idle_tcp_client_is_closed()
    {
        using DnsRelay relay = Start(limits: new DnsRelayLimits { TcpIdleTimeout = TimeSpan.FromMilliseconds(200) });
        using var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(relay.EndPoint, TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(s_wait);
        Assert.Null(await FakeDnsUpstream.ReadFramedAsync(client.GetStream(), cts.Token));
        await WaitUntilAsync(() => _host.Open == 0);
    }

    [Fact]
    public async Task Dispose_frees_both_ports_and_closes_the_host_streams_in_flight()
    {
        DnsRelay relay = Start();
        IPEndPoint endPoint = relay.EndPoint;
        _host.Behavior = FakeDnsUpstream.Mode.Hold;
        using (var udp = new UdpClient(AddressFamily.InterNetwork))
        {
            await udp.SendAsync(FakeDnsUpstream.Query(1, "example.com"), endPoint, TestContext.Current.CancellationToken);
            await WaitUntilAsync(() => _host.Open == 1);
        }
        using var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(endPoint, TestContext.Current.CancellationToken);
        await WaitUntilAsync(() => _host.Open == 2);

        relay.Dispose();
        relay.Dispose();

        await WaitUntilAsync(() => _host.Open == 0);
        using var cts = new CancellationTokenSource(s_wait);
        Assert.Null(await FakeDnsUpstream.ReadFramedAsync(client.GetStream(), cts.Token));
        using DnsRelay again = DnsRelay.Start(IPAddress.Loopback, _host.ConnectAsync, _logs.Enqueue, endPoint.Port);
        Assert.Equal(endPoint, again.EndPoint);
    }

    [Fact]
    public void A_port_in_use_is_a_bind_error_naming_address_and_port()
    {
        using var taken = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)taken.Client.LocalEndPoint!).Port;
        var e = Assert.Throws<VmSandbox.Common.VmSandboxException>(() => DnsRelay.Start(IPAddress.Loopback, _host.ConnectAsync, _logs.Enqueue, port));
        Assert.Equal($"dns relay on 127.0.0.1 port {port}: bind", e.Message);
    }

    public void Dispose() => _host.Dispose();

    private sealed class TrackingStream : MemoryStream
    {
        public bool Disposed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
