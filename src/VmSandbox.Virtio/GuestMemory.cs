namespace VmSandbox.Virtio;

/// <summary>
/// Bounds-checked translation of guest physical addresses (descriptor buffers) and front-end
/// (QEMU) virtual addresses (ring addresses from SET_VRING_ADDR) to host pointers. A range is
/// valid only when it lies entirely inside one region; addr + len overflow is rejected.
/// This type does not own the mappings: whoever created it keeps them alive while it is used
/// (the vhost-user handler swaps tables only while holding the device lock).
/// </summary>
public sealed class GuestMemory
{
    private readonly GuestRegion[] _regions;

    public GuestMemory(ReadOnlySpan<GuestRegion> regions)
    {
        _regions = regions.ToArray();
    }

    public static GuestMemory Empty { get; } = new([]);

    public int RegionCount => _regions.Length;

    /// <summary>Translates [gpa, gpa + len) to a host pointer; false when any byte is outside one region.</summary>
    public bool TryTranslateGpa(ulong gpa, ulong len, out nint host)
    {
        foreach (GuestRegion r in _regions)
        {
            if (TryInRegion(gpa, len, r.GuestPhysAddr, r.Size, out ulong offset))
            {
                // offset + len <= r.Size, and [Host, Host + Size) is mapped by the owner.
                host = r.Host + (nint)offset;
                return true;
            }
        }
        host = 0;
        return false;
    }

    /// <summary>Translates a front-end virtual address range (vhost-user ring addresses).</summary>
    public bool TryTranslateVa(ulong va, ulong len, out nint host)
    {
        foreach (GuestRegion r in _regions)
        {
            if (TryInRegion(va, len, r.UserAddr, r.Size, out ulong offset))
            {
                host = r.Host + (nint)offset;
                return true;
            }
        }
        host = 0;
        return false;
    }

    private static bool TryInRegion(ulong addr, ulong len, ulong start, ulong size, out ulong offset)
    {
        offset = 0;
        if (addr < start)
        {
            return false;
        }
        ulong off = addr - start;
        // Written so that nothing can overflow: off < size, then len <= size - off.
        if (off >= size || len > size - off)
        {
            return false;
        }
        offset = off;
        return true;
    }
}
