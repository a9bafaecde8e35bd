namespace VmSandbox.Virtio;

/// <summary>
/// A validated descriptor chain: its head index and its buffers, already translated and
/// bounds-checked. One instance per queue is reused for every pop (no per-packet allocation).
/// Device-readable buffers come first (virtio 1.2 §2.7.4.2), then device-writable ones.
/// </summary>
public sealed class DescriptorChain
{
    private ChainSegment[] _segments = [];
    private bool _sawWritable;

    public ushort Head { get; private set; }

    public int Count { get; private set; }

    public uint ReadableLength { get; private set; }

    public uint WritableLength { get; private set; }

    public ReadOnlySpan<ChainSegment> Segments => _segments.AsSpan(0, Count);

    /// <summary>Copies up to dest.Length device-readable bytes; returns how many were copied.</summary>
    public int CopyReadable(Span<byte> dest)
    {
        int copied = 0;
        foreach (ChainSegment s in Segments)
        {
            if (s.Writable || copied == dest.Length)
            {
                break;
            }
            int n = (int)Math.Min(s.Length, (uint)(dest.Length - copied));
            unsafe
            {
                // SAFETY: [s.Host, s.Host + s.Length) was bounds-checked against a mapped region
                // when the chain was popped, n <= s.Length, and the mapping outlives the chain
                // (tables are swapped only under the device lock, which the caller holds).
                new ReadOnlySpan<byte>((void*)s.Host, n).CopyTo(dest[copied..]);
            }
            copied += n;
        }
        return copied;
    }

    /// <summary>Scatters src over the device-writable buffers; returns how many bytes fit.</summary>
    public int WriteWritable(ReadOnlySpan<byte> src)
    {
        int written = 0;
        foreach (ChainSegment s in Segments)
        {
            if (!s.Writable)
            {
                continue;
            }
            if (written == src.Length)
            {
                break;
            }
            int n = (int)Math.Min(s.Length, (uint)(src.Length - written));
            unsafe
            {
                // SAFETY: as in CopyReadable; the guest marked this buffer device-writable.
                src.Slice(written, n).CopyTo(new Span<byte>((void*)s.Host, n));
            }
            written += n;
        }
        return written;
    }

    internal void Reset(ushort head, int capacity)
    {
        if (_segments.Length < capacity)
        {
            _segments = new ChainSegment[capacity];
        }
        Head = head;
        Count = 0;
        ReadableLength = 0;
        WritableLength = 0;
        _sawWritable = false;
    }

    /// <summary>Appends a segment; false when the per-chain total would pass 4 GiB or capacity.</summary>
    internal bool TryAdd(nint host, uint length, bool writable)
    {
        if (Count == _segments.Length)
        {
            return false;
        }
        if (writable)
        {
            if ((ulong)WritableLength + length + ReadableLength > uint.MaxValue)
            {
                return false;
            }
            WritableLength += length;
            _sawWritable = true;
        }
        else
        {
            // virtio 1.2 §2.7.4.2: readable descriptors must come before writable ones.
            if (_sawWritable || (ulong)ReadableLength + length > uint.MaxValue)
            {
                return false;
            }
            ReadableLength += length;
        }
        _segments[Count++] = new ChainSegment(host, length, writable);
        return true;
    }
}
