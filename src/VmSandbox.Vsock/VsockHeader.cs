using System.Buffers.Binary;

namespace VmSandbox.Vsock;

/// <summary>
/// struct virtio_vsock_hdr: 44 bytes, packed, little-endian (virtio 1.2 §5.10.6).
/// </summary>
internal struct VsockHeader
{
    public const int Size = 44;
    public const ulong HostCid = 2;
    public const ushort TypeStream = 1;
    public const uint ShutdownRcv = 1;
    public const uint ShutdownSend = 2;

    public ulong SrcCid;
    public ulong DstCid;
    public uint SrcPort;
    public uint DstPort;
    public uint Len;
    public ushort Type;
    public VsockOp Op;
    public uint Flags;
    public uint BufAlloc;
    public uint FwdCnt;

    public static bool TryRead(ReadOnlySpan<byte> b, out VsockHeader h)
    {
        h = default;
        if (b.Length < Size)
        {
            return false;
        }
        h.SrcCid = BinaryPrimitives.ReadUInt64LittleEndian(b);
        h.DstCid = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        h.SrcPort = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]);
        h.DstPort = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]);
        h.Len = BinaryPrimitives.ReadUInt32LittleEndian(b[24..]);
        h.Type = BinaryPrimitives.ReadUInt16LittleEndian(b[28..]);
        h.Op = (VsockOp)BinaryPrimitives.ReadUInt16LittleEndian(b[30..]);
        h.Flags = BinaryPrimitives.ReadUInt32LittleEndian(b[32..]);
        h.BufAlloc = BinaryPrimitives.ReadUInt32LittleEndian(b[36..]);
        h.FwdCnt = BinaryPrimitives.ReadUInt32LittleEndian(b[40..]);
        return true;
    }

    public readonly void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, SrcCid);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], DstCid);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], SrcPort);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], DstPort);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], Len);
        BinaryPrimitives.WriteUInt16LittleEndian(b[28..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(b[30..], (ushort)Op);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[36..], BufAlloc);
        BinaryPrimitives.WriteUInt32LittleEndian(b[40..], FwdCnt);
    }

    public override readonly string ToString()
    {
        return $"{Op} {SrcCid}:{SrcPort}->{DstCid}:{DstPort} len {Len} type {Type} flags {Flags} buf {BufAlloc} fwd {FwdCnt}";
    }
}
