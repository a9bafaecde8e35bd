using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Servers the network tests run on this machine's own addresses (the test bridge's gateway, a
/// user network's gateway): an HTTP responder and a one-name DNS responder. Each serves until
/// disposed; every read and write is bounded in time, and nothing here contacts anything else.
/// </summary>
public sealed class TestServers : IAsyncDisposable
{
    /// <summary>The name the DNS responder knows, and its address.</summary>
    public const string DnsName = "svc.vmsb.test";
    public const string DnsAddress = "10.9.8.7";

    private readonly List<Socket> _sockets = [];
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Answers every HTTP request on <paramref name="address"/> (port chosen here) with <paramref name="body"/>.</summary>
    public int Http(IPAddress address, string body)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen(16);
        _sockets.Add(listener);
        byte[] reply = Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using Socket conn = await listener.AcceptAsync(_stop.Token);
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                cts.CancelAfter(TimeSpan.FromSeconds(10));
                byte[] buffer = new byte[4096];
                int seen = 0;
                // Read up to the end of the request head, then answer.
                while (seen < buffer.Length && !Encoding.ASCII.GetString(buffer, 0, seen).Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    int n = await conn.ReceiveAsync(buffer.AsMemory(seen), SocketFlags.None, cts.Token);
                    if (n == 0)
                    {
                        break;
                    }
                    seen += n;
                }
                await conn.SendAsync(reply, SocketFlags.None, cts.Token);
                conn.Shutdown(SocketShutdown.Both);
            }
        });
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>A UDP DNS responder on <paramref name="address"/>:53 that knows <see cref="DnsName"/> (A) and nothing else (empty answers).</summary>
    public void Dns(IPAddress address)
    {
        var udp = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(address, 53));
        _sockets.Add(udp);
        _ = Task.Run(async () =>
        {
            byte[] buffer = new byte[512];
            while (!_stop.IsCancellationRequested)
            {
                SocketReceiveFromResult r = await udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                if (Answer(buffer.AsSpan(0, r.ReceivedBytes)) is { } reply)
                {
                    await udp.SendToAsync(reply, SocketFlags.None, r.RemoteEndPoint, _stop.Token);
                }
            }
        });
    }

    /// <summary>The reply to one query: the question echoed, one A record for <see cref="DnsName"/>.</summary>
    internal static byte[]? Answer(ReadOnlySpan<byte> query)
    {
        if (query.Length < 17)
        {
            return null;
        }
        int end = 12;
        var name = new StringBuilder();
        while (end < query.Length && query[end] != 0)
        {
            int label = query[end];
            if (label > 63 || end + 1 + label >= query.Length)
            {
                return null;
            }
            name.Append(name.Length > 0 ? "." : "").Append(Encoding.ASCII.GetString(query.Slice(end + 1, label)));
            end += 1 + label;
        }
        if (end + 5 > query.Length)
        {
            return null;
        }
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(query[(end + 1)..]);
        ReadOnlySpan<byte> question = query[12..(end + 5)];
        bool known = type == 1 && string.Equals(name.ToString(), DnsName, StringComparison.OrdinalIgnoreCase);
        var reply = new List<byte>(query[..2].ToArray()) { 0x81, 0x80, 0, 1, 0, (byte)(known ? 1 : 0), 0, 0, 0, 0 };
        reply.AddRange(question.ToArray());
        if (known)
        {
            reply.AddRange([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            reply.AddRange(IPAddress.Parse(DnsAddress).GetAddressBytes());
        }
        return [.. reply];
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        foreach (Socket s in _sockets)
        {
            s.Dispose();
        }
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}
