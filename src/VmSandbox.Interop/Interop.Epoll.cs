using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>An epoll instance whose registrations carry a caller-chosen 64-bit token.</summary>
public sealed unsafe class Epoll : IDisposable
{
    private readonly SafeFd _epfd;

    public Epoll()
    {
        // SAFETY: no pointers involved.
        int fd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (fd < 0)
        {
            throw SyscallError.Create("epoll_create1", null, LibC.errno);
        }
        _epfd = new SafeFd(fd);
    }

    /// <summary>Watches <paramref name="fd"/> for readability, reporting <paramref name="token"/>.</summary>
    public void Add(SafeHandle fd, ulong token)
    {
        Control(LibC.EPOLL_CTL_ADD, fd, token, "epoll_ctl add");
    }

    /// <summary>Stops watching <paramref name="fd"/>; a descriptor that is not registered is ignored.</summary>
    public void Remove(SafeHandle fd)
    {
        try
        {
            Control(LibC.EPOLL_CTL_DEL, fd, 0, "epoll_ctl del");
        }
        catch (VmSandbox.Common.VmSandboxException e) when (e.Errno == LibC.ENOENT || e.Errno == LibC.EBADF)
        {
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1: forever); writes ready tokens, returns their count.</summary>
    public int Wait(Span<ulong> tokens, int timeoutMs)
    {
        int max = Math.Min(tokens.Length, 32);
        epoll_event* events = stackalloc epoll_event[max];
        bool added = false;
        _epfd.DangerousAddRef(ref added);
        try
        {
            int n;
            // SAFETY: events points at max stack-allocated entries, the count we pass.
            n = LibC.epoll_wait(_epfd.Fd, events, max, timeoutMs);
            if (n < 0)
            {
                int errno = LibC.errno;
                if (errno == LibC.EINTR)
                {
                    return 0;
                }
                throw SyscallError.Create("epoll_wait", null, errno);
            }
            for (int i = 0; i < n; i++)
            {
                tokens[i] = events[i].data.u64;
            }
            return n;
        }
        finally
        {
            if (added)
            {
                _epfd.DangerousRelease();
            }
        }
    }

    public void Dispose()
    {
        _epfd.Dispose();
    }

    private void Control(int op, SafeHandle fd, ulong token, string call)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            epoll_event ev = default;
            ev.events = LibC.EPOLLIN;
            ev.data.u64 = token;
            // SAFETY: ev is a stack local alive for the call; both fds are kept alive by SafeHandles.
            if (LibC.epoll_ctl(_epfd.Fd, op, (int)fd.DangerousGetHandle().ToInt64(), &ev) < 0)
            {
                throw SyscallError.Create(call, null, LibC.errno);
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
}
