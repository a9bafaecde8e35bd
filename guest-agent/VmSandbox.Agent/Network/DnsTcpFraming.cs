using System.Buffers.Binary;

namespace VmSandbox.Agent.Network;

/// <summary>
/// DNS over a byte stream (RFC 1035 §4.2.2): each message is preceded by its length as a 2-byte
/// big-endian integer, so a message is at most 65535 bytes.
/// </summary>
public static class DnsTcpFraming
{
    /// <summary>The largest message the 2-byte length can carry.</summary>
    public const int MaxMessageSize = ushort.MaxValue;

    /// <summary>RFC 1035 §4.1.1: every message starts with a 12-byte header.</summary>
    public const int HeaderSize = 12;

    /// <summary>Writes the length and the message in one write.</summary>
    public static async Task WriteAsync(Stream stream, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        if (message.Length > MaxMessageSize)
        {
            throw new ArgumentOutOfRangeException(nameof(message), message.Length, "a dns message is at most 65535 bytes");
        }
        byte[] frame = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame.AsMemory(2));
        await stream.WriteAsync(frame, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads one message; null when the stream ends before its length. A stream that ends
    /// inside a message throws <see cref="EndOfStreamException"/>.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, CancellationToken ct)
    {
        byte[] prefix = new byte[2];
        int got = await stream.ReadAtLeastAsync(prefix, 2, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }
        if (got < 2)
        {
            throw new EndOfStreamException();
        }
        byte[] message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await stream.ReadExactlyAsync(message, ct).ConfigureAwait(false);
        return message;
    }
}
