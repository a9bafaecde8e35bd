using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace VmSandbox.Tests.Unit.Runtime.Network;

/// <summary>
/// A name server on 127.0.0.1:ephemeral speaking DNS over TCP (RFC 1035 §4.2.2): it answers each
/// framed query with <see cref="ReplyTo"/>, or misbehaves as <see cref="Behavior"/> says. It
/// stands for Docker's embedded DNS (the forwarder's upstream) and for the host end of the
/// guest relay's streams.
/// </summary>
public sealed class FakeDnsUpstream : IDisposable
{
    public enum Mode
    {
        Answer,
        /// <summary>Reads the query, answers only after <see cref="ReleaseHeld"/>.</summary>
        Hold,
        /// <summary>Reads the query and closes without a reply.</summary>
        CloseAfterQuery,
        /// <summary>Sends the reply's length and half of it, then closes.</summary>
        CloseMidReply,
    }

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connections;
    private int _maxOpen;
    private volatile Mode _behavior;

    public FakeDnsUpstream()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(128);
        _ = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public Mode Behavior
    {
        get => _behavior;
        set => _behavior = value;
    }

    /// <summary>Bytes appended to each reply (a big value makes replies past UDP's 512).</summary>
    public int ReplyPadding { get; set; } = 40;

    public ConcurrentQueue<byte[]> Queries { get; } = new();

    public int Connections => Volatile.Read(ref _connections);

    public int Open => _open.Count;

    public int MaxOpen => Volatile.Read(ref _maxOpen);

    /// <summary>Connections that reached EOF or reset from the other side.</summary>
    public int ClosedByPeer => Volatile.Read(ref _closedByPeer);

    private int _closedByPeer;

    /// <summary>What the guest relay is given as its host: a fresh TCP connection here.</summary>
    public async Task<Stream> ConnectAsync(CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(EndPoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void ReleaseHeld() => Interlocked.Exchange(ref _release, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>The answer to <paramref name="query"/>: its bytes with QR set, then a pattern.</summary>
    public static byte[] ReplyTo(byte[] query, int padding)
    {
        byte[] reply = new byte[query.Length + padding];
        query.CopyTo(reply, 0);
        reply[2] |= 0x80; // QR: response
        for (int i = 0; i < padding; i++)
        {
            reply[query.Length + i] = (byte)(i * 7 + 3);
        }
        return reply;
    }

    /// <summary>A standard query for <paramref name="name"/> type A, class IN, recursion desired.</summary>
    public static byte[] Query(ushort id, string name)
    {
        var bytes = new List<byte>();
        bytes.AddRange([(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        foreach (string label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }
        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }

    public static byte[] Frame(byte[] message)
    {
        byte[] frame = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame, 2);
        return frame;
    }

    /// <summary>One framed message, or null at EOF before it.</summary>
    public static async Task<byte[]?> ReadFramedAsync(Stream stream, CancellationToken ct)
    {
        byte[] prefix = new byte[2];
        if (await stream.ReadAtLeastAsync(prefix, 2, throwOnEndOfStream: false, ct) < 2)
        {
            return null;
        }
        byte[] message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await stream.ReadExactlyAsync(message, ct);
        return message;
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            _open[socket] = 0;
            int open = _open.Count;
            int max;
            while ((max = Volatile.Read(ref _maxOpen)) < open && Interlocked.CompareExchange(ref _maxOpen, open, max) != max)
            {
            }
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            while (true)
            {
                byte[]? query = await ReadFramedAsync(stream, _stop.Token);
                if (query is null)
                {
                    Interlocked.Increment(ref _closedByPeer);
                    return;
                }
                Queries.Enqueue(query);
                byte[] reply = ReplyTo(query, ReplyPadding);
                switch (Behavior)
                {
                    case Mode.CloseAfterQuery:
                        return;
                    case Mode.CloseMidReply:
                        await stream.WriteAsync(Frame(reply).AsMemory(0, 2 + reply.Length / 2), _stop.Token);
                        return;
                    case Mode.Hold:
                        Task released = Volatile.Read(ref _release).Task;
                        Task peerGone = stream.ReadAsync(new byte[1], _stop.Token).AsTask();
                        if (await Task.WhenAny(released, peerGone) == peerGone)
                        {
                            Interlocked.Increment(ref _closedByPeer);
                            return;
                        }
                        break;
                }
                await stream.WriteAsync(Frame(reply), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            Interlocked.Increment(ref _closedByPeer);
        }
        finally
        {
            _open.TryRemove(socket, out _);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (Socket socket in _open.Keys)
        {
            socket.Dispose();
        }
    }
}
