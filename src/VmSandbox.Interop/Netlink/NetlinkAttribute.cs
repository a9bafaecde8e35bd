using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// One rtattr/nlattr of a received message. The typed getters check the payload's length, so a
/// short or oversized value from the kernel (or from data a guest controls) throws, never reads
/// out of range.
/// </summary>
public readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort rawType, ReadOnlySpan<byte> value)
    {
        RawType = rawType;
        Value = value;
    }

    /// <summary>rta_type with the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.</summary>
    public ushort RawType { get; }

    /// <summary>rta_type without the flag bits.</summary>
    public ushort Type => (ushort)(RawType & NetlinkConstants.NLA_TYPE_MASK);

    public ReadOnlySpan<byte> Value { get; }

    /// <summary>
    /// Reads the attribute at <paramref name="offset"/> of <paramref name="attributes"/> and
    /// moves past it (RTA_ALIGN). Returns false at the end; throws when rta_len is below the
    /// header or runs past the end.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> attributes, ref int offset, out NetlinkAttribute attribute)
    {
        attribute = default;
        if (offset < 0 || offset >= attributes.Length)
        {
            return false;
        }
        ReadOnlySpan<byte> rest = attributes[offset..];
        if (rest.Length < NetlinkConstants.NLA_HDRLEN)
        {
            throw NetlinkErrors.Malformed($"{rest.Length} bytes left at attribute offset {offset}, less than an attribute header");
        }
        ushort length = BinaryPrimitives.ReadUInt16LittleEndian(rest);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(rest[2..]);
        if (length < NetlinkConstants.NLA_HDRLEN || length > rest.Length)
        {
            throw NetlinkErrors.Malformed($"attribute {type & NetlinkConstants.NLA_TYPE_MASK} of rta_len {length} with {rest.Length} bytes left");
        }
        attribute = new NetlinkAttribute(type, rest[NetlinkConstants.NLA_HDRLEN..length]);
        offset += Math.Min(NetlinkConstants.Align(length), rest.Length);
        return true;
    }

    public byte GetByte() => Fixed(1)[0];

    public ushort GetUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Fixed(2));

    public uint GetUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Fixed(4));

    public int GetInt32() => BinaryPrimitives.ReadInt32LittleEndian(Fixed(4));

    /// <summary>A NUL-terminated (or length-bounded) UTF-8 string; at most <paramref name="maxBytes"/> bytes.</summary>
    public string GetString(int maxBytes = 4096)
    {
        ReadOnlySpan<byte> v = Value;
        int nul = v.IndexOf((byte)0);
        if (nul >= 0)
        {
            v = v[..nul];
        }
        if (v.Length > maxBytes)
        {
            throw NetlinkErrors.Malformed($"string attribute {Type} of {v.Length} bytes, more than {maxBytes}");
        }
        return Encoding.UTF8.GetString(v);
    }

    /// <summary>An IPv4 (4 bytes) or IPv6 (16 bytes) address, as <paramref name="family"/> (AF_INET/AF_INET6) requires.</summary>
    public IPAddress GetIPAddress(byte family)
    {
        int size = family == RtnetlinkConstants.AF_INET6 ? 16 : 4;
        if (Value.Length != size)
        {
            throw NetlinkErrors.Malformed($"address attribute {Type} of {Value.Length} bytes for family {family}");
        }
        return new IPAddress(Value);
    }

    private ReadOnlySpan<byte> Fixed(int size)
    {
        if (Value.Length < size)
        {
            throw NetlinkErrors.Malformed($"attribute {Type} of {Value.Length} bytes, expected {size}");
        }
        return Value[..size];
    }
}
