using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>pipe2(2) and non-blocking read(2)/write(2) on its ends, for a helper process's stdio.</summary>
public static unsafe class Pipe
{
    /// <summary>A pipe whose both ends are O_CLOEXEC (and blocking).</summary>
    public static (SafeFd Read, SafeFd Write) Create()
    {
        int* fds = stackalloc int[2];
        // SAFETY: fds points at two writable ints on the stack.
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) < 0)
        {
            throw SyscallError.Create("pipe2", null, LibC.errno);
        }
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    private const int F_SETPIPE_SZ = 1031;

    /// <summary>
    /// fcntl(F_SETPIPE_SZ): asks for a pipe of <paramref name="bytes"/> (the kernel rounds up to
    /// a power-of-two number of pages); false when refused (above /proc/sys/fs/pipe-max-size
    /// without CAP_SYS_RESOURCE, or the user's pipe quota), and the pipe keeps its size.
    /// </summary>
    public static bool TrySetSize(SafeFd fd, int bytes)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            // SAFETY: fcntl on an fd kept alive by the AddRef above; no pointers involved.
            return LibC.fcntl(fd.Fd, F_SETPIPE_SZ, bytes) >= 0;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>Sets O_NONBLOCK on this end only (each end is its own open file description).</summary>
    public static void SetNonBlocking(SafeFd fd)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            // SAFETY: fcntl on an fd kept alive by the AddRef above; no pointers involved.
            int flags = LibC.fcntl(fd.Fd, LibC.F_GETFL, 0);
            if (flags < 0 || LibC.fcntl(fd.Fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK) < 0)
            {
                throw SyscallError.Create("fcntl", null, LibC.errno);
            }
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>Reads what is there: the byte count, 0 at end of file, -1 when nothing is ready (EAGAIN).</summary>
    public static int Read(SafeFd fd, Span<byte> buffer)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            long n;
            fixed (byte* p = buffer)
            {
                byte* data = p;
                size_t length = (size_t)buffer.Length;
                // SAFETY: data points at buffer.Length pinned bytes; the fd is kept alive by the AddRef.
                n = Eintr.Retry(() => LibC.read(fd.Fd, data, length));
            }
            if (n >= 0)
            {
                return (int)n;
            }
            int errno = LibC.errno;
            return errno == LibC.EAGAIN ? -1 : throw SyscallError.Create("read", null, errno);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Writes what fits: the byte count, 0 when the pipe is full (EAGAIN). A reader that has gone
    /// (EPIPE) throws with <see cref="Common.VmSandboxException.Errno"/> set; SIGPIPE is never raised
    /// because .NET ignores it.
    /// </summary>
    public static int Write(SafeFd fd, ReadOnlySpan<byte> data)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            long n;
            fixed (byte* p = data)
            {
                byte* bytes = p;
                size_t length = (size_t)data.Length;
                // SAFETY: bytes points at data.Length pinned bytes; the fd is kept alive by the AddRef.
                n = Eintr.Retry(() => LibC.write(fd.Fd, bytes, length));
            }
            if (n >= 0)
            {
                return (int)n;
            }
            int errno = LibC.errno;
            return errno == LibC.EAGAIN ? 0 : throw SyscallError.Create("write", null, errno);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }
}
