using System.Buffers.Binary;
using VmSandbox.Interop;

namespace VmSandbox.Virtio.VhostUser;

/// <summary>
/// The mappings of one SET_MEM_TABLE: each region's fd mapped MAP_SHARED over
/// memory_size + mmap_offset bytes (libvhost-user maps from offset 0 and adds mmap_offset).
/// Owns the mappings; <see cref="Dispose"/> unmaps them all.
/// </summary>
internal sealed class MemoryTable : IDisposable
{
    public const int MaxRegions = 8;
    private readonly MappedRegion[] _mappings;

    private MemoryTable(MappedRegion[] mappings, GuestMemory memory)
    {
        _mappings = mappings;
        Memory = memory;
    }

    public static MemoryTable Empty { get; } = new([], GuestMemory.Empty);

    public GuestMemory Memory { get; }

    public int MappingCount => _mappings.Length;

    /// <summary>Parses {u32 nregions; u32 pad; region[n]} and maps one fd per region.</summary>
    public static MemoryTable Map(ReadOnlySpan<byte> payload, ReadOnlySpan<SafeFd> fds)
    {
        if (payload.Length < 8)
        {
            throw VhostUserProtocol.Error("set_mem_table: short payload");
        }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (count == 0 || count > MaxRegions || payload.Length != 8 + 32 * count || fds.Length != count)
        {
            throw VhostUserProtocol.Error($"set_mem_table: {count} regions, {payload.Length} bytes, {fds.Length} fds");
        }
        var mappings = new List<MappedRegion>();
        var regions = new GuestRegion[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> r = payload.Slice(8 + 32 * i, 32);
                ulong gpa = BinaryPrimitives.ReadUInt64LittleEndian(r);
                ulong size = BinaryPrimitives.ReadUInt64LittleEndian(r[8..]);
                ulong userAddr = BinaryPrimitives.ReadUInt64LittleEndian(r[16..]);
                ulong mmapOffset = BinaryPrimitives.ReadUInt64LittleEndian(r[24..]);
                if (size == 0 || size > long.MaxValue || mmapOffset > long.MaxValue - size
                    || gpa > ulong.MaxValue - size || userAddr > ulong.MaxValue - size)
                {
                    throw VhostUserProtocol.Error($"set_mem_table: bad region {i} (gpa 0x{gpa:x} size 0x{size:x} offset 0x{mmapOffset:x})");
                }
                // Touching a MAP_SHARED page past the end of the file raises SIGBUS, which no
                // managed code can survive: refuse regions larger than their file.
                ulong fileSize = FileStat.GetSize(fds[i], $"guest memory region {i}");
                if (fileSize < size + mmapOffset)
                {
                    throw VhostUserProtocol.Error($"set_mem_table: region {i} needs 0x{size + mmapOffset:x} bytes, its fd has 0x{fileSize:x}");
                }
                MappedRegion map = MappedRegion.MapShared(fds[i], size + mmapOffset, $"guest memory region {i}");
                mappings.Add(map);
                regions[i] = new GuestRegion(gpa, size, userAddr, map.Address + (nint)mmapOffset);
            }
        }
        catch
        {
            foreach (MappedRegion m in mappings)
            {
                m.Dispose();
            }
            throw;
        }
        return new MemoryTable([.. mappings], new GuestMemory(regions));
    }

    public void Dispose()
    {
        foreach (MappedRegion m in _mappings)
        {
            m.Dispose();
        }
    }
}
