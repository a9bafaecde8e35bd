using System.Runtime.InteropServices;
using VmSandbox.Common;

namespace VmSandbox.Interop;

/// <summary>
/// The one helper every syscall failure goes through: it names the call, the path (if any)
/// and the errno, e.g. "mount /proc: no such device (errno 19)".
/// </summary>
public static class SyscallError
{
    public static VmSandboxException Create(string call, string? path, int errno)
    {
        string what = path is null ? call : $"{call} {path}";
        string text = Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant();
        return new VmSandboxException(ErrorCode.System, $"{what}: {text} (errno {errno})") { Errno = errno };
    }

    /// <summary>Throws when <paramref name="rc"/> is negative, reading errno right away.</summary>
    public static long ThrowIfNegative(long rc, string call, string? path = null)
    {
        if (rc < 0)
        {
            throw Create(call, path, Tmds.Linux.LibC.errno);
        }
        return rc;
    }
}
