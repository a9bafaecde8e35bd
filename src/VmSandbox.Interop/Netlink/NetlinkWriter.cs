using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VmSandbox.Common;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// Builds netlink requests into a caller-provided buffer: one nlmsghdr, the family header
/// (ifinfomsg, rtmsg, …), then rtattrs, nested ones included, each padded to 4 with zeros.
/// Never writes past the buffer: a request that does not fit throws.
/// </summary>
public ref struct NetlinkWriter
{
    private readonly Span<byte> _buffer;
    private int _length;
    private int _messageStart;

    public NetlinkWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _messageStart = -1;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _length;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>Starts a message; <see cref="EndMessage"/> fills in nlmsg_len.</summary>
    public void BeginMessage(ushort type, ushort flags, uint seq)
    {
        _messageStart = _length;
        Write(new nlmsghdr { nlmsg_type = type, nlmsg_flags = flags, nlmsg_seq = seq });
    }

    /// <summary>Sets nlmsg_len of the open message and returns the total length written.</summary>
    public int EndMessage()
    {
        if (_messageStart < 0)
        {
            throw new InvalidOperationException("no netlink message begun");
        }
        BitConverter.TryWriteBytes(_buffer[_messageStart..], (uint)(_length - _messageStart));
        _messageStart = -1;
        return _length;
    }

    /// <summary>Writes a fixed C struct (a family header), padded to 4.</summary>
    public void Write<T>(in T value)
        where T : unmanaged
    {
        Span<byte> dest = Reserve(Unsafe.SizeOf<T>());
        MemoryMarshal.Write(dest, in value);
    }

    /// <summary>Writes one rtattr with <paramref name="value"/> as its payload.</summary>
    public void WriteAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        WriteAttributeHeader(type, value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    /// <summary>Writes one rtattr whose payload is a C value (u32, a struct).</summary>
    public void WriteAttribute<T>(ushort type, in T value)
        where T : unmanaged
    {
        WriteAttributeHeader(type, Unsafe.SizeOf<T>());
        Write(in value);
    }

    /// <summary>Writes a NUL-terminated UTF-8 string attribute (NLA_NUL_STRING / NLA_STRING).</summary>
    public void WriteAttribute(ushort type, string value)
    {
        int count = Encoding.UTF8.GetByteCount(value);
        WriteAttributeHeader(type, count + 1);
        Span<byte> dest = Reserve(count + 1);
        Encoding.UTF8.GetBytes(value, dest);
        dest[count] = 0;
    }

    /// <summary>
    /// Opens a nested attribute; pass the returned offset to <see cref="EndNested"/>.
    /// <paramref name="type"/> may carry NLA_F_NESTED where the kernel (or tc) expects it.
    /// </summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        WriteAttributeHeader(type, 0);
        return start;
    }

    public readonly void EndNested(int start)
    {
        int length = _length - start;
        if (start < 0 || length < NetlinkConstants.NLA_HDRLEN || length > ushort.MaxValue)
        {
            throw new InvalidOperationException("unbalanced or oversized nested netlink attribute");
        }
        BitConverter.TryWriteBytes(_buffer[start..], (ushort)length);
    }

    private void WriteAttributeHeader(ushort type, int payloadLength)
    {
        int length = NetlinkConstants.NLA_HDRLEN + payloadLength;
        if (length > ushort.MaxValue)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"netlink attribute {type} of {payloadLength} bytes is too long");
        }
        Write(new rtattr { rta_len = (ushort)length, rta_type = type });
    }

    /// <summary>Returns <paramref name="count"/> bytes to fill and zeroes the padding after them.</summary>
    private Span<byte> Reserve(int count)
    {
        int padded = NetlinkConstants.Align(count);
        if (padded > _buffer.Length - _length)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"netlink request exceeds its {_buffer.Length}-byte buffer");
        }
        Span<byte> dest = _buffer.Slice(_length, count);
        _buffer.Slice(_length + count, padded - count).Clear();
        _length += padded;
        return dest;
    }
}
