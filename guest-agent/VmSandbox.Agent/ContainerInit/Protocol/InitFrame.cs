using System.Buffers.Binary;
using System.Text.Json;
using VmSandbox.Common;

namespace VmSandbox.Agent.ContainerInit.Protocol;

/// <summary>
/// Framing of <see cref="InitMessage"/>s: a 4-byte big-endian length, then that many bytes of
/// UTF-8 JSON. Both ends treat the other as untrusted: a bad frame is a protocol error.
/// </summary>
public static class InitFrame
{
    public const int HeaderSize = 4;

    /// <summary>A spec with a big seccomp profile is ~100 KiB; refuse anything absurd.</summary>
    public const int MaxPayload = 16 * 1024 * 1024;

    public static byte[] Encode(InitMessage message)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(message, InitJsonContext.Default.InitMessage);
        byte[] frame = new byte[HeaderSize + json.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, json.Length);
        json.CopyTo(frame, HeaderSize);
        return frame;
    }

    /// <summary>The payload length announced by a header; throws for a length out of range.</summary>
    public static int PayloadLength(ReadOnlySpan<byte> header)
    {
        int length = BinaryPrimitives.ReadInt32BigEndian(header);
        return length is < 2 or > MaxPayload
            ? throw new VmSandboxException(ErrorCode.Protocol, $"init message: bad length {length}")
            : length;
    }

    public static InitMessage DecodePayload(ReadOnlySpan<byte> payload)
    {
        InitMessage? message;
        try
        {
            message = JsonSerializer.Deserialize(payload, InitJsonContext.Default.InitMessage);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw new VmSandboxException(ErrorCode.Protocol, "init message: invalid json");
        }
        return message is null || message.Type.Length == 0
            ? throw new VmSandboxException(ErrorCode.Protocol, "init message: no type")
            : message;
    }

    /// <summary>Decodes one whole frame (header and payload) from the start of <paramref name="data"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out InitMessage? message, out int consumed)
    {
        message = null;
        consumed = 0;
        if (data.Length < HeaderSize)
        {
            return false;
        }
        int length = PayloadLength(data);
        if (data.Length < HeaderSize + length)
        {
            return false;
        }
        message = DecodePayload(data.Slice(HeaderSize, length));
        consumed = HeaderSize + length;
        return true;
    }
}
