using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static VmSandbox.Interop.Netlink.NetlinkConstants;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// Reads the kernel's replies one datagram at a time: dump parts up to NLMSG_DONE, and ACKs.
/// Messages with another sequence number (late replies to an abandoned request) are skipped.
/// Pure, so that multi-part dumps, errors and malformed input are unit-tested without a socket.
/// </summary>
public static class NetlinkReplies
{
    /// <summary>A dump that returns more entries than this is refused rather than held in memory.</summary>
    public const int MaxDumpEntries = 1 << 20;

    /// <summary>
    /// Adds what <paramref name="decode"/> makes of each <paramref name="messageType"/> message
    /// of <paramref name="datagram"/> to <paramref name="into"/> (null results are dropped).
    /// Returns true once NLMSG_DONE ends the dump. <paramref name="interrupted"/> is set when
    /// the kernel flags NLM_F_DUMP_INTR (the tables changed during the dump).
    /// </summary>
    public static bool ReadDumpPart<T>(ReadOnlySpan<byte> datagram, uint seq, ushort messageType, NetlinkDecode<T> decode, List<T> into, string call, ref bool interrupted)
        where T : class
    {
        int offset = 0;
        while (NetlinkMessage.TryRead(datagram, ref offset, out NetlinkMessage m))
        {
            if (m.Header.nlmsg_seq != seq)
            {
                continue;
            }
            if ((m.Header.nlmsg_flags & NLM_F_DUMP_INTR) != 0)
            {
                interrupted = true;
            }
            switch (m.Header.nlmsg_type)
            {
                case NLMSG_NOOP:
                    continue;
                case NLMSG_DONE:
                    // netlink.c: NLMSG_DONE carries the dump's status as an int; negative is an errno.
                    if (m.Payload.Length >= sizeof(int) && MemoryMarshal.Read<int>(m.Payload) is < 0 and var status)
                    {
                        throw NetlinkErrors.FromErrno(call, "dump", -status, null);
                    }
                    return true;
                case NLMSG_ERROR:
                    ThrowIfError(m, call, "dump");
                    return true;
                case NLMSG_OVERRUN:
                    throw NetlinkErrors.Malformed($"{call} dump overrun");
            }
            if (m.Header.nlmsg_type != messageType)
            {
                continue;
            }
            T? value = decode(m);
            if (value is not null)
            {
                if (into.Count >= MaxDumpEntries)
                {
                    throw NetlinkErrors.Malformed($"{call} dump of more than {MaxDumpEntries} entries");
                }
                into.Add(value);
            }
        }
        return false;
    }

    /// <summary>
    /// Returns true once <paramref name="datagram"/> holds the ACK of <paramref name="seq"/>;
    /// throws the error when the kernel refused the request (naming <paramref name="call"/> and
    /// <paramref name="what"/>).
    /// </summary>
    public static bool ReadAck(ReadOnlySpan<byte> datagram, uint seq, string call, string what)
    {
        int offset = 0;
        while (NetlinkMessage.TryRead(datagram, ref offset, out NetlinkMessage m))
        {
            if (m.Header.nlmsg_seq == seq && m.Header.nlmsg_type == NLMSG_ERROR)
            {
                ThrowIfError(m, call, what);
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The errno of an NLMSG_ERROR payload (0 for an ACK) and the kernel's extended-ACK text
    /// (NLMSGERR_ATTR_MSG), if any.
    /// </summary>
    public static int ParseError(NetlinkMessage message, out string? kernelMessage)
    {
        kernelMessage = null;
        nlmsgerr err = message.ReadHeader<nlmsgerr>();
        if (err.error > 0 || err.error == int.MinValue)
        {
            throw NetlinkErrors.Malformed($"nlmsgerr.error {err.error}");
        }
        if ((message.Header.nlmsg_flags & NLM_F_ACK_TLVS) != 0)
        {
            // netlink.h: the TLVs follow the echoed request, which is only its header when
            // NLM_F_CAPPED is set (or on an ACK, error 0).
            long start = Unsafe.SizeOf<nlmsgerr>();
            if ((message.Header.nlmsg_flags & NLM_F_CAPPED) == 0 && err.error != 0)
            {
                start += Math.Max(0L, (long)err.msg.nlmsg_len - NLMSG_HDRLEN);
            }
            start = Align((int)Math.Min(start, message.Payload.Length));
            if (start < message.Payload.Length)
            {
                ReadOnlySpan<byte> tlvs = message.Payload[(int)start..];
                int offset = 0;
                while (NetlinkAttribute.TryRead(tlvs, ref offset, out NetlinkAttribute a))
                {
                    if (a.Type == NLMSGERR_ATTR_MSG)
                    {
                        kernelMessage = a.GetString(1024);
                    }
                }
            }
        }
        return -err.error;
    }

    private static void ThrowIfError(NetlinkMessage m, string call, string what)
    {
        int errno = ParseError(m, out string? kernelMessage);
        if (errno != 0)
        {
            throw NetlinkErrors.FromErrno(call, what, errno, kernelMessage);
        }
    }
}
