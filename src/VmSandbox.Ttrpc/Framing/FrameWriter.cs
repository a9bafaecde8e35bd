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
    public ValueTask WriteAsync(uint streamId, FrameType type, FrameFlags flags, IMessage body, CancellationToken cancellationToken = default) =>
        WriteAsync(streamId, null, type, flags, body, cancellationToken);

    /// <summary>
    /// Writes a frame whose data is the encoding of <paramref name="body"/> on a stream whose id
    /// <paramref name="takeStreamId"/> gives under the write lock, so that ids reach the wire in
    /// the order they are taken: ttrpc servers since 1.2 refuse an id that is not above the last
    /// one (client.go createStream takes the id and the send lock together for the same reason).
    /// </summary>
    public ValueTask WriteAsync(Func<uint> takeStreamId, FrameType type, FrameFlags flags, IMessage body, CancellationToken cancellationToken = default) =>
        WriteAsync(0, takeStreamId, type, flags, body, cancellationToken);

    /// <summary>Writes a frame with raw data.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(uint streamId, FrameType type, FrameFlags flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckLength(data.Length, streamId);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + data.Length);
        try
        {
            data.Span.CopyTo(buffer.AsSpan(FrameHeader.Size));
            await WriteLockedAsync(buffer, new FrameHeader((uint)data.Length, streamId, type, flags), null, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => _lock.Dispose();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteAsync(uint streamId, Func<uint>? takeStreamId, FrameType type, FrameFlags flags, IMessage body, CancellationToken cancellationToken)
    {
        int length = body.CalculateSize();
        CheckLength(length, streamId);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + length);
        try
        {
            body.WriteTo(buffer.AsSpan(FrameHeader.Size, length));
            await WriteLockedAsync(buffer, new FrameHeader((uint)length, streamId, type, flags), takeStreamId, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Writes <paramref name="header"/> (with the id <paramref name="takeStreamId"/> gives, if any) and the data after it in <paramref name="buffer"/>, under the lock.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteLockedAsync(byte[] buffer, FrameHeader header, Func<uint>? takeStreamId, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (takeStreamId is not null)
            {
                header = header with { StreamId = takeStreamId() };
            }
            header.Write(buffer);
            await _stream.WriteAsync(buffer.AsMemory(0, FrameHeader.Size + (int)header.Length), CancellationToken.None);
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
                $"write ttrpc frame for {(streamId == 0 ? "a new stream" : $"stream {streamId}")}: message length {length} exceed maximum message size of {FrameHeader.MaxDataLength}");
        }
    }
}
