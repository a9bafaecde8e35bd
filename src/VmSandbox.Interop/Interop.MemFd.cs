using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>memfd_create + ftruncate: anonymous shareable memory (how QEMU backs guest RAM).</summary>
public static unsafe class MemFd
{
    public static SafeFd Create(string name, ulong size)
    {
        int fd;
        fixed (byte* p = CString.Utf8(name))
        {
            // SAFETY: p is a NUL-terminated buffer pinned for the duration of the call.
            fd = LibC.memfd_create(p, LibC.MFD_CLOEXEC);
        }
        if (fd < 0)
        {
            throw SyscallError.Create("memfd_create", name, LibC.errno);
        }
        var handle = new SafeFd(fd);
        // SAFETY: fd is the memfd just created; no pointers involved.
        if (LibC.ftruncate(fd, (long)size) < 0)
        {
            int errno = LibC.errno;
            handle.Dispose();
            throw SyscallError.Create("ftruncate", name, errno);
        }
        return handle;
    }
}
