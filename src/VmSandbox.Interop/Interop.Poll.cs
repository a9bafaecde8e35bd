using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>poll(2) over a handful of descriptors (a helper process's pipes and pidfd).</summary>
public static unsafe class Poll
{
    public const short In = 0x001;
    public const short Out = 0x004;
    public const short Err = 0x008;
    public const short Hup = 0x010;

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (-1: forever) for any of <paramref name="events"/>
    /// on <paramref name="fds"/>; null entries are skipped. Fills <paramref name="revents"/> and
    /// returns how many are ready (0 on timeout or EINTR).
    /// </summary>
    public static int Wait(ReadOnlySpan<SafeFd?> fds, ReadOnlySpan<short> events, Span<short> revents, int timeoutMs)
    {
        if (fds.Length > 16 || events.Length != fds.Length || revents.Length != fds.Length)
        {
            throw new ArgumentException("poll takes at most 16 descriptors, one event mask and one result each");
        }
        pollfd* set = stackalloc pollfd[fds.Length];
        Span<bool> added = stackalloc bool[fds.Length];
        try
        {
            for (int i = 0; i < fds.Length; i++)
            {
                set[i].fd = -1;
                if (fds[i] is { } fd)
                {
                    fd.DangerousAddRef(ref added[i]);
                    set[i].fd = fd.Fd;
                }
                set[i].events = events[i];
                set[i].revents = 0;
            }
            // SAFETY: set points at fds.Length initialised stack entries; negative fds are ignored
            // by the kernel; the others are kept alive by the AddRefs.
            int n = LibC.poll(set, (ulong_t)(ulong)fds.Length, timeoutMs);
            if (n < 0)
            {
                int errno = LibC.errno;
                if (errno != LibC.EINTR)
                {
                    throw SyscallError.Create("poll", null, errno);
                }
                n = 0;
            }
            for (int i = 0; i < fds.Length; i++)
            {
                revents[i] = n > 0 ? set[i].revents : (short)0;
            }
            return n;
        }
        finally
        {
            for (int i = 0; i < fds.Length; i++)
            {
                if (added[i])
                {
                    fds[i]!.DangerousRelease();
                }
            }
        }
    }
}
