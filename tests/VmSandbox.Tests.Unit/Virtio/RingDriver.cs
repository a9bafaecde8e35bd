using VmSandbox.Virtio;
using Xunit;

namespace VmSandbox.Tests.Unit.Virtio;

/// <summary>
/// Plays the guest driver of one split virtqueue laid into <see cref="GuestRam"/>: writes
/// descriptors and avail entries, reads used entries. Buffers come from a bump allocator.
/// </summary>
internal sealed class RingDriver
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;

    private readonly GuestRam _ram;
    private ulong _nextBuffer;
    private readonly ulong _bufferEnd;
    private ushort _nextDesc;
    private ushort _usedSeen;

    public RingDriver(GuestRam ram, ushort size, ulong areaGpa, ulong areaSize)
    {
        _ram = ram;
        Size = size;
        DescGpa = areaGpa;
        AvailGpa = DescGpa + (16UL * size);
        UsedGpa = (AvailGpa + 6 + (2UL * size) + 3) & ~3UL;
        _nextBuffer = (UsedGpa + 6 + (8UL * size) + 15) & ~15UL;
        _bufferEnd = areaGpa + areaSize;
    }

    public ushort Size { get; }

    public ulong DescGpa { get; }

    public ulong AvailGpa { get; }

    public ulong UsedGpa { get; }

    public ushort AvailIdx { get; set; }

    public ushort UsedIdx => _ram.R16(UsedGpa + 2);

    public Virtqueue CreateQueue(bool eventIdx = true, bool indirect = true)
    {
        var q = new Virtqueue("test");
        Assert.True(q.TrySetSize(Size));
        q.SetAddresses(DescGpa, UsedGpa, AvailGpa);
        Assert.True(q.TryActivate(_ram.Memory, eventIdx, indirect, addressesAreVa: false));
        return q;
    }

    public ulong Alloc(int length)
    {
        ulong gpa = _nextBuffer;
        _nextBuffer = (_nextBuffer + (ulong)length + 15) & ~15UL;
        if (_nextBuffer > _bufferEnd)
        {
            throw new InvalidOperationException("ring driver out of buffer space");
        }
        return gpa;
    }

    public void SetDesc(ulong tableGpa, int index, ulong addr, uint len, ushort flags, ushort next)
    {
        ulong d = tableGpa + (16UL * (ulong)index);
        _ram.W64(d, addr);
        _ram.W32(d + 8, len);
        _ram.W16(d + 12, flags);
        _ram.W16(d + 14, next);
    }

    public void SetDesc(int index, ulong addr, uint len, ushort flags, ushort next = 0)
    {
        SetDesc(DescGpa, index, addr, len, flags, next);
    }

    /// <summary>Takes the next descriptor slot (round robin; tests keep few in flight).</summary>
    public ushort TakeDesc()
    {
        ushort i = _nextDesc;
        _nextDesc = (ushort)((_nextDesc + 1) % Size);
        return i;
    }

    public void Publish(ushort head)
    {
        _ram.W16(AvailGpa + 4 + (2UL * (ulong)(AvailIdx % Size)), head);
        AvailIdx++;
        _ram.W16(AvailGpa + 2, AvailIdx);
    }

    /// <summary>Lays a device-readable packet (one descriptor) and publishes it.</summary>
    public ushort AddReadable(ReadOnlySpan<byte> bytes)
    {
        ulong gpa = Alloc(Math.Max(bytes.Length, 1));
        bytes.CopyTo(_ram.Span(gpa, bytes.Length));
        ushort d = TakeDesc();
        SetDesc(d, gpa, (uint)bytes.Length, 0);
        Publish(d);
        return d;
    }

    /// <summary>Posts an rx buffer as a 44-byte header descriptor + data descriptor (Linux 6.1 style).</summary>
    public ushort AddWritable(int dataLength)
    {
        ushort h = TakeDesc();
        ushort d = TakeDesc();
        SetDesc(h, Alloc(44), 44, Write | Next, d);
        SetDesc(d, Alloc(dataLength), (uint)dataLength, Write);
        Publish(h);
        return h;
    }

    public (uint Id, uint Len) Used(int position)
    {
        ulong e = UsedGpa + 4 + (8UL * (ulong)(position % Size));
        return (_ram.R32(e), _ram.R32(e + 4));
    }

    /// <summary>Returns the used entries added since the last call.</summary>
    public List<(uint Id, uint Len)> TakeUsed()
    {
        var list = new List<(uint, uint)>();
        ushort idx = UsedIdx;
        while (_usedSeen != idx)
        {
            list.Add(Used(_usedSeen));
            _usedSeen++;
        }
        return list;
    }

    /// <summary>Gathers the bytes the device wrote into the chain at <paramref name="head"/>.</summary>
    public byte[] ReadChain(ushort head, uint len)
    {
        var result = new List<byte>();
        ushort i = head;
        while (result.Count < len)
        {
            ulong d = DescGpa + (16UL * i);
            ulong addr = BitConverter.ToUInt64(_ram.Span(d, 8));
            uint dlen = _ram.R32(d + 8);
            ushort flags = _ram.R16(d + 12);
            int take = (int)Math.Min(dlen, len - (uint)result.Count);
            result.AddRange(_ram.Span(addr, take).ToArray());
            if ((flags & Next) == 0)
            {
                break;
            }
            i = _ram.R16(d + 14);
        }
        return [.. result];
    }
}
