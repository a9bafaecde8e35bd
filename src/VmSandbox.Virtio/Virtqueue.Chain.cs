using System.Runtime.CompilerServices;

namespace VmSandbox.Virtio;

public sealed partial class Virtqueue
{
    private const ushort DescFNext = 1;
    private const ushort DescFWrite = 2;
    private const ushort DescFIndirect = 4;

    /// <summary>
    /// Walks the chain starting at <paramref name="head"/> (already checked &lt; Size). Every
    /// descriptor is copied out of guest memory once, then validated: index in range, buffer
    /// inside one region, no readable-after-writable, at most Size descriptors in the main table
    /// and Size in one indirect table (this also ends loops), no nested indirect, indirect table
    /// length a non-zero multiple of 16, total length under 4 GiB.
    /// </summary>
    private bool TryWalkChain(ushort head, DescriptorChain chain, out string? why)
    {
        chain.Reset(head, 2 * Size);
        nint table = _desc;
        uint tableSize = Size;
        uint idx = head;
        uint visited = 0;
        bool indirect = false;
        GuestMemory memory = _memory;
        while (true)
        {
            if (idx >= tableSize)
            {
                why = $"descriptor index {idx} out of range {tableSize}";
                return false;
            }
            if (++visited > tableSize)
            {
                why = "chain longer than its table (loop?)";
                return false;
            }
            (ulong addr, uint len, ushort flags, ushort next) = ReadDescriptor(table + (nint)(16 * idx));
            if ((flags & DescFIndirect) != 0)
            {
                if (!IndirectDesc || indirect)
                {
                    why = indirect ? "indirect descriptor inside an indirect table" : "indirect descriptor not negotiated";
                    return false;
                }
                if ((flags & DescFNext) != 0 || len == 0 || len % 16 != 0 || len / 16 > Size)
                {
                    why = $"bad indirect descriptor (len {len}, flags {flags})";
                    return false;
                }
                if (!memory.TryTranslateGpa(addr, len, out nint itable))
                {
                    why = $"indirect table 0x{addr:x}+{len} outside guest memory";
                    return false;
                }
                table = itable;
                tableSize = len / 16;
                idx = 0;
                visited = 0;
                indirect = true;
                continue;
            }
            if (!memory.TryTranslateGpa(addr, len, out nint buffer))
            {
                why = $"buffer 0x{addr:x}+{len} outside guest memory";
                return false;
            }
            if (!chain.TryAdd(buffer, len, (flags & DescFWrite) != 0))
            {
                why = "readable descriptor after a writable one, or chain too long";
                return false;
            }
            if ((flags & DescFNext) == 0)
            {
                why = null;
                return true;
            }
            idx = next;
        }
    }

    /// <summary>Copies one descriptor out of guest memory (read once, then validated as a local).</summary>
    private static (ulong Addr, uint Len, ushort Flags, ushort Next) ReadDescriptor(nint d)
    {
        unsafe
        {
            // SAFETY: idx < tableSize was checked, and the table [base, base + 16 * tableSize)
            // was translated as a whole (TryActivate or the indirect descriptor's len).
            return (Unsafe.ReadUnaligned<ulong>((void*)d), Unsafe.ReadUnaligned<uint>((void*)(d + 8)),
                Unsafe.ReadUnaligned<ushort>((void*)(d + 12)), Unsafe.ReadUnaligned<ushort>((void*)(d + 14)));
        }
    }
}
