using System.Buffers.Binary;
using VmSandbox.Interop;
using VmSandbox.Virtio;

namespace VmSandbox.Tests.Unit.Virtio;

/// <summary>
/// Simulated guest RAM: one region whose bytes sit right between two PROT_NONE guard pages,
/// so any access the device makes outside the region faults the test process.
/// </summary>
internal sealed unsafe class GuestRam : IDisposable
{
    public const ulong BaseGpa = 0x10_0000;
    public const ulong UserBase = 0x7f00_0000_0000;
    private readonly MappedRegion _map;

    public GuestRam(ulong size)
    {
        _map = MappedRegion.MapGuarded(size, out ulong offset);
        Host = _map.Pointer + offset;
        Size = size;
        Memory = new GuestMemory([new GuestRegion(BaseGpa, size, UserBase, (nint)Host)]);
    }

    /// <summary>Guest RAM backed by a memfd, as QEMU's memory-backend-memfd shares it.</summary>
    public GuestRam(SafeFd memfd, ulong size)
    {
        _map = MappedRegion.MapShared(memfd, size, "test guest ram");
        Host = _map.Pointer;
        Size = size;
        Memory = new GuestMemory([new GuestRegion(BaseGpa, size, UserBase, (nint)Host)]);
    }

    public byte* Host { get; }

    public ulong Size { get; }

    public GuestMemory Memory { get; }

    public Span<byte> Span(ulong gpa, int length)
    {
        if (gpa < BaseGpa || gpa - BaseGpa + (ulong)length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(gpa));
        }
        return new Span<byte>(Host + (gpa - BaseGpa), length);
    }

    public void W16(ulong gpa, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Span(gpa, 2), v);

    public void W32(ulong gpa, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Span(gpa, 4), v);

    public void W64(ulong gpa, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Span(gpa, 8), v);

    public ushort R16(ulong gpa) => BinaryPrimitives.ReadUInt16LittleEndian(Span(gpa, 2));

    public uint R32(ulong gpa) => BinaryPrimitives.ReadUInt32LittleEndian(Span(gpa, 4));

    public void Dispose() => _map.Dispose();
}
