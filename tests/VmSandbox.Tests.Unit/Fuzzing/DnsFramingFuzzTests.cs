using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Runtime.Network;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// What the host parses of the guest's DNS traffic: the DNS-over-TCP framing (a 2-byte length,
/// RFC 1035 §4.2.2) of the queries the guest's relay sends, which the forwarder's datagram mode
/// turns into UDP datagrams to the upstream. The DNS messages themselves are passed on
/// unread; an echo upstream on 127.0.0.1 answers each with itself.
/// </summary>
public sealed class DnsFramingFuzzTests : IDisposable
{
    private const uint Port = 1053;
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-dnsfuzz-").FullName;
    private readonly Socket _echo = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _logs = new();

    public DnsFramingFuzzTests()
    {
        _echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _ = EchoAsync();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _echo.Dispose();
        Directory.Delete(_dir, recursive: true);
        _stop.Dispose();
    }

    private async Task EchoAsync()
    {
        byte[] buffer = new byte[ushort.MaxValue];
        try
        {
            while (true)
            {
                SocketReceiveFromResult r = await _echo.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                await _echo.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, r.RemoteEndPoint, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Dns_query_framing()
    {
        byte[] query = Convert.FromHexString("123401000001000000000000076578616d706c6503636f6d0000010001");
        byte[] framed = [(byte)(query.Length >> 8), (byte)query.Length, .. query];
        var target = new FuzzTarget("guest DNS query framing (DNS forwarder)",
            "mutated streams of length-prefixed DNS queries (lengths 0 to 65535, cut short, split) from the guest's side of the forwarder's socket, datagram mode",
            "every whole query of 12 bytes or more is answered, framed, in order; a short or cut query closes the connection; the forwarder keeps no connection and throws nothing")
        {
            Seeds = [framed, [.. framed, .. framed, .. framed], [0, 12, .. query.AsSpan(0, 12)]],
            MaxInputLength = 4096,
            DefaultIterations = 1500,
        };
        var upstream = (IPEndPoint)_echo.LocalEndPoint!;
        using DnsForwarder forwarder = DnsForwarder.Start(Path.Combine(_dir, "vsock"), Port, upstream, _logs.Enqueue, idleTimeout: TimeSpan.FromSeconds(2), datagrams: true);
        FuzzReport report = await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            List<byte[]> expected = Queries(input);
            using var guest = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await guest.ConnectAsync(new UnixDomainSocketEndPoint(forwarder.SocketPath), ct);
            await guest.SendAsync(input, SocketFlags.None, ct);
            guest.Shutdown(SocketShutdown.Send);
            byte[] replies = await FuzzSockets.ReadToEndAsync(guest, ct);
            List<byte[]> got = Frames(replies);
            if (got.Count != expected.Count || !got.Zip(expected).All(p => p.First.AsSpan().SequenceEqual(p.Second)))
            {
                throw new InvalidDataException($"{expected.Count} whole queries sent, {got.Count} answers back ({replies.Length} bytes), or not the same; forwarder: {string.Join("; ", _logs)}");
            }
            return got.Count > 0;
        });
        for (int i = 0; i < 200 && forwarder.ActiveConnections > 0; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
        Assert.Equal(0, forwarder.ActiveConnections);
        report.RecordAndAssert();
    }

    /// <summary>The queries the forwarder should pass on: whole frames of 12 bytes or more, up to the first that is not.</summary>
    private static List<byte[]> Queries(byte[] input)
    {
        var queries = new List<byte[]>();
        int at = 0;
        while (input.Length - at >= 2)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(at));
            if (length < 12 || input.Length - at - 2 < length)
            {
                break;
            }
            queries.Add(input.AsSpan(at + 2, length).ToArray());
            at += 2 + length;
        }
        return queries;
    }

    /// <summary>The framed replies; a frame cut short is an error of the forwarder's.</summary>
    private static List<byte[]> Frames(byte[] stream)
    {
        var frames = new List<byte[]>();
        int at = 0;
        while (at < stream.Length)
        {
            if (stream.Length - at < 2 || stream.Length - at - 2 < BinaryPrimitives.ReadUInt16BigEndian(stream.AsSpan(at)))
            {
                throw new InvalidDataException($"a reply frame cut short at byte {at} of {stream.Length}");
            }
            int length = BinaryPrimitives.ReadUInt16BigEndian(stream.AsSpan(at));
            frames.Add(stream.AsSpan(at + 2, length).ToArray());
            at += 2 + length;
        }
        return frames;
    }
}
