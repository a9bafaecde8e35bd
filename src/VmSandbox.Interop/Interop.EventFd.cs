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
            ulong* value = &one;
            int handle = (int)fd.DangerousGetHandle().ToInt64();
            // SAFETY: writes 8 bytes from a stack local to an fd kept alive by the AddRef.
            _ = Eintr.Retry(() => LibC.write(handle, value, (size_t)8));
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
            ulong* counter = &value;
            int handle = (int)fd.DangerousGetHandle().ToInt64();
            // SAFETY: reads 8 bytes into a stack local from an fd kept alive by the AddRef.
            return Eintr.Retry(() => LibC.read(handle, counter, (size_t)8)) == 8;
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
