using Google.Protobuf;

namespace VmSandbox.Ttrpc;

/// <summary>What a <see cref="TtrpcMethodHandler"/> answers: a message or serialized bytes.</summary>
public readonly struct TtrpcResult
{
    private readonly IMessage? _message;
    private readonly ReadOnlyMemory<byte> _bytes;

    private TtrpcResult(IMessage? message, ReadOnlyMemory<byte> bytes)
    {
        _message = message;
        _bytes = bytes;
    }

    public static TtrpcResult FromMessage(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new TtrpcResult(message, default);
    }

    public static TtrpcResult FromBytes(ReadOnlyMemory<byte> bytes) => new(null, bytes);

    public static implicit operator TtrpcResult(byte[] bytes) => FromBytes(bytes);

    public static implicit operator TtrpcResult(ReadOnlyMemory<byte> bytes) => FromBytes(bytes);

    /// <summary>The response payload as a ByteString; bytes are wrapped, not copied.</summary>
    internal ByteString ToByteString() =>
        _message is not null ? _message.ToByteString() : UnsafeByteOperations.UnsafeWrap(_bytes);
}
