using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// sendmsg/recvmsg with SCM_RIGHTS ancillary data (.NET has no managed API for passing fds:
/// dotnet/runtime#932), plus socketpair and shutdown for AF_UNIX stream sockets.
/// </summary>
public static unsafe class UnixSocket
{
    /// <summary>vhost-user sends at most 8 fds with one message (VHOST_MEMORY_BASELINE_NREGIONS).</summary>
    public const int MaxFds = 8;

    /// <summary>sizeof(struct cmsghdr) on LP64 Linux (x86_64, arm64).</summary>
    private const int CmsgHeaderSize = 16;

    private static int CmsgSpace(int dataLength)
    {
        return CmsgHeaderSize + ((dataLength + 7) & ~7);
    }

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length bytes; any fds that came with them are
    /// written to <paramref name="fds"/> (owned by the caller from then on) and counted in
    /// <paramref name="fdCount"/>. Returns 0 at end of stream. Retries on EINTR.
    /// </summary>
    public static int ReceiveWithFds(SafeHandle socket, Span<byte> buffer, Span<int> fds, out int fdCount)
    {
        fdCount = 0;
        bool added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            int fd = (int)socket.DangerousGetHandle().ToInt64();
            int controlLen = CmsgSpace(sizeof(int) * MaxFds);
            byte* control = stackalloc byte[controlLen];
            new Span<byte>(control, controlLen).Clear();
            fixed (byte* data = buffer)
            {
                iovec iov = default;
                iov.iov_base = data;
                iov.iov_len = (size_t)buffer.Length;
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control;
                msg.msg_controllen = (socklen_t)controlLen;
                msghdr* message = &msg;
                // SAFETY: message points at stack locals (msg, iov, control) and the pinned buffer,
                // all alive for the call; the kernel writes at most msg_controllen/iov_len bytes.
                long n = Eintr.Retry(() => LibC.recvmsg(fd, message, LibC.MSG_CMSG_CLOEXEC));
                if (n < 0)
                {
                    throw SyscallError.Create("recvmsg", null, LibC.errno);
                }
                // Walk the control messages by hand: struct cmsghdr on LP64 Linux is
                // { size_t cmsg_len; int cmsg_level; int cmsg_type; } = 16 bytes, data 8-aligned.
                long controlUsed = (long)(uint)msg.msg_controllen;
                for (long off = 0; off + CmsgHeaderSize <= controlUsed;)
                {
                    // SAFETY: off + 16 <= controlUsed <= controlLen, inside the stack buffer.
                    long len = (long)*(ulong*)(control + off);
                    int level = *(int*)(control + off + 8);
                    int type = *(int*)(control + off + 12);
                    if (len < CmsgHeaderSize || off + len > controlUsed)
                    {
                        break;
                    }
                    if (level == LibC.SOL_SOCKET && type == LibC.SCM_RIGHTS)
                    {
                        int count = (int)((len - CmsgHeaderSize) / sizeof(int));
                        int* received = (int*)(control + off + CmsgHeaderSize);
                        for (int i = 0; i < count; i++)
                        {
                            if (fdCount < fds.Length)
                            {
                                fds[fdCount++] = received[i];
                            }
                            else
                            {
                                _ = LibC.close(received[i]);
                            }
                        }
                    }
                    off += (len + 7) & ~7L;
                }
                if ((msg.msg_flags & LibC.MSG_CTRUNC) != 0)
                {
                    for (int i = 0; i < fdCount; i++)
                    {
                        _ = LibC.close(fds[i]);
                    }
                    fdCount = 0;
                    throw SyscallError.Create("recvmsg", "(control data truncated)", LibC.EMSGSIZE);
                }
                return (int)n;
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>Sends all of <paramref name="data"/>, with <paramref name="fds"/> attached to the first chunk.</summary>
    public static void SendWithFds(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        if (fds.Length > MaxFds)
        {
            throw new ArgumentOutOfRangeException(nameof(fds));
        }
        bool added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            int fd = (int)socket.DangerousGetHandle().ToInt64();
            int controlLen = fds.Length == 0 ? 0 : CmsgSpace(sizeof(int) * fds.Length);
            byte* control = stackalloc byte[Math.Max(controlLen, 1)];
            fixed (byte* start = data)
            {
                int sent = 0;
                while (sent < data.Length || (sent == 0 && data.Length == 0))
                {
                    iovec iov = default;
                    iov.iov_base = start + sent;
                    iov.iov_len = (size_t)(data.Length - sent);
                    msghdr msg = default;
                    msg.msg_iov = &iov;
                    msg.msg_iovlen = 1;
                    if (sent == 0 && controlLen > 0)
                    {
                        new Span<byte>(control, controlLen).Clear();
                        msg.msg_control = control;
                        msg.msg_controllen = (socklen_t)controlLen;
                        // SAFETY: control holds CmsgSpace(n * sizeof(int)) zeroed bytes: one 16-byte
                        // header followed by n ints.
                        *(ulong*)control = (ulong)(CmsgHeaderSize + (sizeof(int) * fds.Length));
                        *(int*)(control + 8) = LibC.SOL_SOCKET;
                        *(int*)(control + 12) = LibC.SCM_RIGHTS;
                        fds.CopyTo(new Span<int>(control + CmsgHeaderSize, fds.Length));
                    }
                    msghdr* message = &msg;
                    // SAFETY: message points at stack locals and the pinned data, alive for the call.
                    long n = Eintr.Retry(() => LibC.sendmsg(fd, message, LibC.MSG_NOSIGNAL));
                    if (n < 0)
                    {
                        throw SyscallError.Create("sendmsg", null, LibC.errno);
                    }
                    sent += (int)n;
                    if (data.Length == 0)
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>Clears O_NONBLOCK so that recvmsg/sendmsg block.</summary>
    public static void SetBlocking(SafeHandle socket)
    {
        bool added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            int fd = (int)socket.DangerousGetHandle().ToInt64();
            // SAFETY: fcntl on an fd kept alive by the AddRef above; no pointers involved.
            int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
            if (flags < 0 || LibC.fcntl(fd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK) < 0)
            {
                throw SyscallError.Create("fcntl", null, LibC.errno);
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>A connected AF_UNIX SOCK_STREAM pair (O_CLOEXEC).</summary>
    public static (SafeFd First, SafeFd Second) CreatePair()
    {
        int* sv = stackalloc int[2];
        // SAFETY: sv points at two writable ints on the stack.
        if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, sv) < 0)
        {
            throw SyscallError.Create("socketpair", null, LibC.errno);
        }
        return (new SafeFd(sv[0]), new SafeFd(sv[1]));
    }
}
