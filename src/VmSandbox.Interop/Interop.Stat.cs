using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>statx(2) on an open descriptor.</summary>
public static unsafe class FileStat
{
    /// <summary>The size in bytes of the file behind <paramref name="fd"/> (AT_EMPTY_PATH).</summary>
    public static ulong GetSize(SafeHandle fd, string what)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            statx buf = default;
            byte empty = 0;
            // SAFETY: &empty is a NUL-terminated empty path, buf a stack local the kernel fills.
            if (LibC.statx((int)fd.DangerousGetHandle().ToInt64(), &empty, LibC.AT_EMPTY_PATH, LibC.STATX_SIZE, &buf) < 0)
            {
                throw SyscallError.Create("statx", what, LibC.errno);
            }
            return buf.stx_size;
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
