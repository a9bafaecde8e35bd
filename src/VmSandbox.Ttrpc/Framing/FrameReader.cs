using System.Buffers;
using System.Runtime.CompilerServices;
using VmSandbox.Common;

namespace VmSandbox.Ttrpc.Framing;

/// <summary>
/// Reads ttrpc frames from a stream. Not thread-safe: one reader loop owns it. The header
/// buffer is reused and frame data is rented from <see cref="ArrayPool{T}"/>, so a frame costs
/// no allocation of its own. A frame above the size limit is skipped in pieces, as
/// channel.go does, so a bogus length costs no memory.
/// </summary>
public sealed class FrameReader
{
    private const int DiscardChunk = 64 * 1024;

    private readonly Stream _stream;
    private readonly int _maxDataLength;
    private readonly byte[] _header = new byte[FrameHeader.Size];

    public FrameReader(Stream stream, int maxDataLength = FrameHeader.MaxDataLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDataLength);
        _stream = stream;
        _maxDataLength = maxDataLength;
    }

    /// <summary>
    /// The next frame, or null when the stream ended cleanly between frames. Throws
    /// <see cref="VmSandboxException"/> (<see cref="ErrorCode.Protocol"/>) when it ended inside
    /// a frame.
    /// </summary>
    // Pooled builder: a read that has to wait allocates no state machine box per frame.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken = default)
    {
        int got = await _stream.ReadAtLeastAsync(_header, FrameHeader.Size, throwOnEndOfStream: false, cancellationToken);
        if (got == 0)
        {
            return null;
        }
        if (got < FrameHeader.Size)
        {
            throw Truncated("header", got, FrameHeader.Size);
        }
        var header = FrameHeader.Read(_header);
        if (header.Length > (uint)_maxDataLength)
        {
            await DiscardAsync(header.Length, cancellationToken);
            return new Frame(header, null, oversized: true);
        }
        if (header.Length == 0)
        {
            return new Frame(header, null, oversized: false);
        }

        int length = (int)header.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            got = await _stream.ReadAtLeastAsync(buffer.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken);
            if (got < length)
            {
                throw Truncated("data of stream " + header.StreamId, got, length);
            }
            return new Frame(header, buffer, oversized: false);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private async ValueTask DiscardAsync(uint length, CancellationToken cancellationToken)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(DiscardChunk);
        try
        {
            long left = length;
            while (left > 0)
            {
                int n = await _stream.ReadAsync(scratch.AsMemory(0, (int)Math.Min(left, scratch.Length)), cancellationToken);
                if (n == 0)
                {
                    throw Truncated("oversized frame", length - left, length);
                }
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static VmSandboxException Truncated(string what, long got, long expected) =>
        new(ErrorCode.Protocol, $"read ttrpc frame {what}: connection closed after {got} of {expected} bytes");
}
