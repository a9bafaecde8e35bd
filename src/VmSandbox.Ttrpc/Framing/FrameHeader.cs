using System.Buffers.Binary;

namespace VmSandbox.Ttrpc.Framing;

/// <summary>
/// The 10-byte ttrpc frame header (channel.go messageHeader): data length and stream id as
/// big-endian u32, then the type and flags bytes.
/// </summary>
public readonly record struct FrameHeader(uint Length, uint StreamId, FrameType Type, FrameFlags Flags)
{
    /// <summary>The size of an encoded header.</summary>
    public const int Size = 10;

    /// <summary>channel.go messageLengthMax: 4 MiB, so the first header byte is always 0.</summary>
    public const int MaxDataLength = 4 << 20;

    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        return new FrameHeader(
            BinaryPrimitives.ReadUInt32BigEndian(source),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            (FrameType)source[8],
            (FrameFlags)source[9]);
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        destination[8] = (byte)Type;
        destination[9] = (byte)Flags;
    }
}
