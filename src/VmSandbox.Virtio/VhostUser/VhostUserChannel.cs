using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VmSandbox.Interop;

namespace VmSandbox.Virtio.VhostUser;

/// <summary>
/// Message framing on the vhost-user socket: a 12-byte header, then the payload; fds arrive as
/// SCM_RIGHTS with the first bytes. Buffers are reused across messages. Received fds are owned
/// here until a handler takes them with <see cref="TakeFd"/>; the rest are closed by
/// <see cref="ReleaseFds"/> after each message.
/// </summary>
public sealed class VhostUserChannel
{
    private readonly SafeHandle _socket;
    private readonly byte[] _header = new byte[VhostUserMessage.HeaderSize];
    private readonly byte[] _payload = new byte[VhostUserMessage.MaxPayload];
    private readonly byte[] _reply = new byte[VhostUserMessage.HeaderSize + VhostUserMessage.MaxPayload];
    private readonly int[] _fds = new int[UnixSocket.MaxFds];
    private readonly int[] _scratchFds = new int[UnixSocket.MaxFds];

    public VhostUserChannel(SafeHandle socket)
    {
        _socket = socket;
    }

    internal VhostUserRequest Request { get; private set; }

    internal uint Flags { get; private set; }

    internal int PayloadSize { get; private set; }

    internal ReadOnlySpan<byte> Payload => _payload.AsSpan(0, PayloadSize);

    internal int FdCount { get; private set; }

    /// <summary>Reads one message; false at end of stream (the front-end went away).</summary>
    internal bool TryReceive()
    {
        ReleaseFds();
        if (!ReadExactly(_header, allowEof: true))
        {
            return false;
        }
        Request = (VhostUserRequest)BinaryPrimitives.ReadUInt32LittleEndian(_header);
        Flags = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(4));
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(8));
        if ((Flags & VhostUserMessage.VersionMask) != VhostUserMessage.Version)
        {
            throw VhostUserProtocol.Error($"message {(uint)Request}: bad flags 0x{Flags:x}");
        }
        if (size > VhostUserMessage.MaxPayload)
        {
            throw VhostUserProtocol.Error($"message {(uint)Request}: payload of {size} bytes is too large");
        }
        PayloadSize = (int)size;
        return ReadExactly(_payload.AsSpan(0, PayloadSize), allowEof: false);
    }

    /// <summary>Takes ownership of received fd <paramref name="index"/>.</summary>
    internal SafeFd TakeFd(int index)
    {
        if (index >= FdCount || _fds[index] < 0)
        {
            throw VhostUserProtocol.Error($"message {(uint)Request}: fd {index} missing");
        }
        var fd = new SafeFd(_fds[index]);
        _fds[index] = -1;
        return fd;
    }

    /// <summary>Closes every received fd no handler took.</summary>
    internal void ReleaseFds()
    {
        for (int i = 0; i < FdCount; i++)
        {
            if (_fds[i] >= 0)
            {
                new SafeFd(_fds[i]).Dispose();
                _fds[i] = -1;
            }
        }
        FdCount = 0;
    }

    /// <summary>Sends a reply: same request, flags 0x5, the given payload.</summary>
    internal void Reply(ReadOnlySpan<byte> payload)
    {
        Span<byte> msg = _reply.AsSpan(0, VhostUserMessage.HeaderSize + payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(msg, (uint)Request);
        BinaryPrimitives.WriteUInt32LittleEndian(msg[4..], VhostUserMessage.ReplyFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(msg[8..], (uint)payload.Length);
        payload.CopyTo(msg[VhostUserMessage.HeaderSize..]);
        UnixSocket.SendWithFds(_socket, msg, []);
    }

    internal void ReplyU64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Reply(b);
    }

    private bool ReadExactly(Span<byte> buffer, bool allowEof)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = UnixSocket.ReceiveWithFds(_socket, buffer[got..], _scratchFds, out int fdCount);
            for (int i = 0; i < fdCount; i++)
            {
                if (FdCount < _fds.Length)
                {
                    _fds[FdCount++] = _scratchFds[i];
                }
                else
                {
                    new SafeFd(_scratchFds[i]).Dispose();
                }
            }
            if (n == 0)
            {
                if (allowEof && got == 0)
                {
                    return false;
                }
                throw VhostUserProtocol.Error("connection closed in the middle of a message");
            }
            got += n;
        }
        return true;
    }
}
