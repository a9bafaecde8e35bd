namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>
/// A stream whose reads return fixed bytes in random-sized pieces, after an optional gate
/// opens, and then EOF; writes are counted and dropped. Feeds fuzzed input to frame readers.
/// </summary>
internal sealed class ScriptedStream : Stream
{
    private readonly byte[] _input;
    private readonly Random _random;
    private readonly Task _gate;
    private int _position;

    public ScriptedStream(byte[] input, Random random, Task? gate = null)
    {
        _input = input;
        _random = random;
        _gate = gate ?? Task.CompletedTask;
    }

    public long BytesWritten { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        int left = _input.Length - _position;
        if (left == 0 || buffer.Length == 0)
        {
            return 0;
        }
        int n;
        lock (_random)
        {
            n = Math.Min(Math.Min(left, buffer.Length), _random.Next(1, 64));
        }
        _input.AsSpan(_position, n).CopyTo(buffer.Span);
        _position += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BytesWritten += buffer.Length;
        return ValueTask.CompletedTask;
    }

    public override void Write(byte[] buffer, int offset, int count) => BytesWritten += count;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
