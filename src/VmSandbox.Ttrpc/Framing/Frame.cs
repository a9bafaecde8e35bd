using System.Buffers;

namespace VmSandbox.Ttrpc.Framing;

/// <summary>
/// One received frame. Its data lives in a buffer rented from <see cref="ArrayPool{T}"/>:
/// dispose the frame exactly once when done with <see cref="Data"/>.
/// </summary>
public readonly struct Frame : IDisposable
{
    private readonly byte[]? _buffer;

    internal Frame(FrameHeader header, byte[]? buffer, bool oversized)
    {
        Header = header;
        _buffer = buffer;
        IsOversized = oversized;
    }

    public FrameHeader Header { get; }

    /// <summary>
    /// The frame's length was above <see cref="FrameHeader.MaxDataLength"/>: its body was read
    /// and discarded, <see cref="Data"/> is empty, and the peer should get RESOURCE_EXHAUSTED.
    /// </summary>
    public bool IsOversized { get; }

    public ReadOnlyMemory<byte> Data => IsOversized || _buffer is null
        ? ReadOnlyMemory<byte>.Empty
        : _buffer.AsMemory(0, (int)Header.Length);

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
