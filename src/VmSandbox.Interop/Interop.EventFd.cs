using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>eventfd(2) notifiers: vhost-user kick/call fds and our own wake-ups.</summary>
public static unsafe class EventFd
{
    public static SafeFd Create(bool nonBlocking = true)
    {
        int flags = LibC.EFD_CLOEXEC | (nonBlocking ? LibC.EFD_NONBLOCK : 0);
        // SAFETY: no pointers involved.
        int fd = LibC.eventfd(0, flags);
        if (fd < 0)
        {
            throw SyscallError.Create("eventfd", null, LibC.errno);
        }
        return new SafeFd(fd);
    }

    /// <summary>Adds 1 to the counter; a full counter (EAGAIN) already means "signalled".</summary>
    public static void Signal(SafeHandle fd)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            ulong one = 1;
            long n;
            do
            {
                // SAFETY: writes 8 bytes from a stack local to an fd kept alive by the AddRef.
                n = LibC.write((int)fd.DangerousGetHandle().ToInt64(), &one, (size_t)8);
            }
            while (n < 0 && LibC.errno == LibC.EINTR);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>Reads and clears the counter of a non-blocking fd; false when it was zero or not an eventfd.</summary>
    public static bool TryDrain(SafeHandle fd)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            ulong value = 0;
            long n;
            do
            {
                // SAFETY: reads 8 bytes into a stack local from an fd kept alive by the AddRef.
                n = LibC.read((int)fd.DangerousGetHandle().ToInt64(), &value, (size_t)8);
            }
            while (n < 0 && LibC.errno == LibC.EINTR);
            return n == 8;
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
