using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// AF_NETLINK datagram sockets: socket, bind, sendto and recvfrom with the kernel (port 0) as the
/// only peer. The message codec and rtnetlink requests live in <c>Netlink/</c>.
/// </summary>
public static unsafe class NetlinkSocket
{
    // include/uapi/linux/netlink.h
    public const int NETLINK_ROUTE = 0;
    public const int SOL_NETLINK = 270;
    public const int NETLINK_CAP_ACK = 10;
    public const int NETLINK_EXT_ACK = 11;

    /// <summary>linux/netlink.h struct sockaddr_nl (12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_nl
    {
        public ushort nl_family;
        public ushort nl_pad;
        public uint nl_pid;
        public uint nl_groups;
    }

    /// <summary>
    /// A bound netlink socket of <paramref name="protocol"/> in the calling thread's network
    /// namespace (the kernel picks the port id). Asks for capped ACKs and extended ACKs where the
    /// kernel has them, and for a receive timeout so that a reply that never comes is an error.
    /// </summary>
    public static SafeFd Open(int protocol, TimeSpan receiveTimeout)
    {
        // SAFETY: no pointers; the returned fd is owned by the SafeFd right away.
        int raw = LibC.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, protocol);
        SyscallError.ThrowIfNegative(raw, "socket", "AF_NETLINK");
        var fd = new SafeFd(raw);
        try
        {
            var addr = new sockaddr_nl { nl_family = (ushort)LibC.AF_NETLINK };
            // SAFETY: &addr points at a local struct of the size passed.
            SyscallError.ThrowIfNegative(LibC.bind(fd.Fd, (sockaddr*)&addr, (socklen_t)sizeof(sockaddr_nl)), "bind", "AF_NETLINK");
            int one = 1;
            // SAFETY: &one points at a local int of the size passed. Failure only means an older
            // kernel (no capped or extended ACKs), which the reply parser handles as well.
            _ = LibC.setsockopt(fd.Fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(int));
            // SAFETY: as above.
            _ = LibC.setsockopt(fd.Fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(int));
            long micros = (long)(receiveTimeout.TotalMilliseconds * 1000);
            // struct timeval on LP64 Linux: { long tv_sec; long tv_usec; }.
            long* tv = stackalloc long[2];
            tv[0] = micros / 1_000_000;
            tv[1] = micros % 1_000_000;
            // SAFETY: tv points at 16 writable stack bytes, the size passed.
            SyscallError.ThrowIfNegative(LibC.setsockopt(fd.Fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv, 2 * sizeof(long)), "setsockopt", "SO_RCVTIMEO");
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Sends one datagram to the kernel. Retries on EINTR.</summary>
    public static void Send(SafeFd socket, ReadOnlySpan<byte> message)
    {
        var kernel = new sockaddr_nl { nl_family = (ushort)LibC.AF_NETLINK };
        fixed (byte* p = message)
        {
            byte* data = p;
            size_t length = (size_t)message.Length;
            sockaddr* to = (sockaddr*)&kernel;
            // SAFETY: data points at message.Length pinned bytes and to at a local sockaddr_nl;
            // both outlive the call. The SafeFd keeps the fd number valid.
            long n = Eintr.Retry(() => LibC.sendto(socket.Fd, data, length, 0, to, (socklen_t)sizeof(sockaddr_nl)));
            SyscallError.ThrowIfNegative(n, "sendto", "AF_NETLINK");
        }
    }

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/> and returns its length, which is the
    /// datagram's full length (MSG_TRUNC) even when that exceeds the buffer: the caller checks.
    /// <paramref name="senderPort"/> is the sender's port id (0 for the kernel). Retries on EINTR.
    /// </summary>
    public static int Receive(SafeFd socket, Span<byte> buffer, out uint senderPort)
    {
        sockaddr_nl from = default;
        socklen_t fromLen = (socklen_t)sizeof(sockaddr_nl);
        fixed (byte* p = buffer)
        {
            byte* data = p;
            size_t length = (size_t)buffer.Length;
            sockaddr* sender = (sockaddr*)&from;
            socklen_t* senderLength = &fromLen;
            // SAFETY: data points at buffer.Length pinned bytes, the kernel writes at most that
            // many; sender/senderLength point at locals sized by fromLen.
            long n = Eintr.Retry(() => LibC.recvfrom(socket.Fd, data, length, LibC.MSG_TRUNC, sender, senderLength));
            SyscallError.ThrowIfNegative(n, "recvfrom", "AF_NETLINK");
            senderPort = from.nl_pid;
            return (int)n;
        }
    }
}
