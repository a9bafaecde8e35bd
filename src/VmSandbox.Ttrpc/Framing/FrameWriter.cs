using System.Buffers;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace VmSandbox.Ttrpc.Framing;

/// <summary>
/// Writes ttrpc frames to a stream; safe to call concurrently. Each frame is encoded into one
/// rented buffer and written with one write, under a lock so frames never interleave. Once a
/// write has begun it is not cancelled: a half-written frame would corrupt the connection.
/// </summary>
public sealed class FrameWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly SemaphoreSlim _lock = new(1, 1);

    public FrameWriter(Stream stream)
    {
        _stream = stream;
    }

    /// <summary>Writes a frame whose data is the encoding of <paramref name="body"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(uint streamId, FrameType type, FrameFlags flags, IMessage body, CancellationToken cancellationToken = default)
    {
        int length = body.CalculateSize();
        CheckLength(length, streamId);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + length);
        try
        {
            new FrameHeader((uint)length, streamId, type, flags).Write(buffer);
            body.WriteTo(buffer.AsSpan(FrameHeader.Size, length));
            await WriteLockedAsync(buffer.AsMemory(0, FrameHeader.Size + length), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Writes a frame with raw data.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(uint streamId, FrameType type, FrameFlags flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckLength(data.Length, streamId);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + data.Length);
        try
        {
            new FrameHeader((uint)data.Length, streamId, type, flags).Write(buffer);
            data.Span.CopyTo(buffer.AsSpan(FrameHeader.Size));
            await WriteLockedAsync(buffer.AsMemory(0, FrameHeader.Size + data.Length), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => _lock.Dispose();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteLockedAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(frame, CancellationToken.None);
            await _stream.FlushAsync(CancellationToken.None);
        }
        finally
        {
            _lock.Release();
        }
    }

    private static void CheckLength(int length, uint streamId)
    {
        if (length > FrameHeader.MaxDataLength)
        {
            throw new TtrpcException(StatusCode.ResourceExhausted,
                $"write ttrpc frame for stream {streamId}: message length {length} exceed maximum message size of {FrameHeader.MaxDataLength}");
        }
    }
}
