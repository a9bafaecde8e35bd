using System.Buffers.Binary;
using Google.Protobuf;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>Builds and reads frames by hand, for tests that play a misbehaving peer.</summary>
internal static class RawFrames
{
    public static byte[] Frame(uint length, uint streamId, byte type, byte flags, ReadOnlySpan<byte> data)
    {
        var frame = new byte[FrameHeader.Size + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), streamId);
        frame[8] = type;
        frame[9] = flags;
        data.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    public static byte[] Frame(uint streamId, FrameType type, ReadOnlySpan<byte> data) =>
        Frame((uint)data.Length, streamId, (byte)type, 0, data);

    public static byte[] Request(uint streamId, string service, string method, IMessage? payload = null) =>
        Frame(streamId, FrameType.Request, new Request
        {
            Service = service,
            Method = method,
            Payload = payload?.ToByteString() ?? ByteString.Empty,
        }.ToByteArray());

    /// <summary>Reads one whole frame: header and data.</summary>
    public static async Task<(FrameHeader Header, byte[] Data)> ReadAsync(Stream stream)
    {
        var header = new byte[FrameHeader.Size];
        await stream.ReadExactlyAsync(header).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var h = FrameHeader.Read(header);
        var data = new byte[h.Length];
        await stream.ReadExactlyAsync(data).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return (h, data);
    }

    public static async Task<Response> ReadResponseAsync(Stream stream, uint expectedStreamId)
    {
        var (header, data) = await ReadAsync(stream);
        Xunit.Assert.Equal(FrameType.Response, header.Type);
        Xunit.Assert.Equal(expectedStreamId, header.StreamId);
        return Response.Parser.ParseFrom(data);
    }
}
