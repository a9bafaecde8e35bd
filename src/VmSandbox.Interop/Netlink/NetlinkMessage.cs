using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// One message of a received netlink datagram: its header and its payload (the bytes after the
/// header, up to nlmsg_len). Reading checks every length against the datagram first.
/// </summary>
public readonly ref struct NetlinkMessage
{
    public NetlinkMessage(nlmsghdr header, ReadOnlySpan<byte> payload)
    {
        Header = header;
        Payload = payload;
    }

    public nlmsghdr Header { get; }

    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>
    /// Reads the message at <paramref name="offset"/> and moves it to the next one (NLMSG_ALIGN).
    /// Returns false at the end of the datagram; throws when a header is cut short or its length
    /// is below the header size or past the datagram's end.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, ref int offset, out NetlinkMessage message)
    {
        message = default;
        if (offset < 0 || offset >= datagram.Length)
        {
            return false;
        }
        ReadOnlySpan<byte> rest = datagram[offset..];
        if (rest.Length < NetlinkConstants.NLMSG_HDRLEN)
        {
            throw NetlinkErrors.Malformed($"{rest.Length} bytes left at offset {offset}, less than a header");
        }
        nlmsghdr header = MemoryMarshal.Read<nlmsghdr>(rest);
        if (header.nlmsg_len < NetlinkConstants.NLMSG_HDRLEN || header.nlmsg_len > (uint)rest.Length)
        {
            throw NetlinkErrors.Malformed($"nlmsg_len {header.nlmsg_len} at offset {offset} in a {datagram.Length}-byte datagram");
        }
        int length = (int)header.nlmsg_len;
        message = new NetlinkMessage(header, rest[NetlinkConstants.NLMSG_HDRLEN..length]);
        offset += Math.Min(NetlinkConstants.Align(length), rest.Length);
        return true;
    }

    /// <summary>The family header at the start of the payload (ifinfomsg, rtmsg, …).</summary>
    public T ReadHeader<T>()
        where T : unmanaged
    {
        if (Payload.Length < Unsafe.SizeOf<T>())
        {
            throw NetlinkErrors.Malformed($"message type {Header.nlmsg_type} of {Payload.Length} bytes, shorter than its {Unsafe.SizeOf<T>()}-byte {typeof(T).Name}");
        }
        return MemoryMarshal.Read<T>(Payload);
    }

    /// <summary>The attributes after a family header of type <typeparamref name="T"/>.</summary>
    public ReadOnlySpan<byte> AttributesAfter<T>()
        where T : unmanaged
    {
        int start = NetlinkConstants.Align(Unsafe.SizeOf<T>());
        return start >= Payload.Length ? [] : Payload[start..];
    }
}
