using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VmSandbox.Interop;

/// <summary>Kernel module loading with finit_module(2).</summary>
public static unsafe partial class KernelModule
{
    // arch/x86/entry/syscalls/syscall_64.tbl: 313 finit_module.
    private const long SYS_finit_module = 313;
    private const int EEXIST = 17;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall3(long number, long a0, byte* a1, long a2);

    /// <summary>
    /// Loads the module at <paramref name="path"/>. Returns false when it was loaded already
    /// (EEXIST), true when this call loaded it.
    /// </summary>
    public static bool Load(string path, string parameters = "")
    {
        int raw;
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned NUL-terminated string.
            raw = Tmds.Linux.LibC.open(p, Tmds.Linux.LibC.O_RDONLY | Tmds.Linux.LibC.O_CLOEXEC);
        }
        if (raw < 0)
        {
            throw SyscallError.Create("open", path, Tmds.Linux.LibC.errno);
        }
        using var fd = new SafeFileHandle(raw, ownsHandle: true);
        fixed (byte* p = CString.Utf8(parameters))
        {
            // SAFETY: fd is open for the duration of the call; p is a pinned NUL-terminated string.
            long rc = syscall3(SYS_finit_module, fd.DangerousGetHandle(), p, 0);
            if (rc < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EEXIST)
                {
                    return false;
                }
                throw SyscallError.Create("finit_module", path, errno);
            }
        }
        return true;
    }
}
