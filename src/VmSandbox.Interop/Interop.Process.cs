using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>waitpid(2), kill(2) and friends.</summary>
public static unsafe partial class ProcessCalls
{
    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int waitpid(int pid, int* status, int options);

    public const int WNOHANG = 1;
    private const int ECHILD = 10;
    private const int EINTR = 4;

    /// <summary>Reaps one exited child without blocking. Returns its pid, or 0 when none is ready or no child exists.</summary>
    public static int ReapAny(out int status)
    {
        int st = 0;
        while (true)
        {
            // SAFETY: &st is a pointer to a local int.
            int pid = waitpid(-1, &st, WNOHANG);
            if (pid >= 0)
            {
                status = st;
                return pid;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
            {
                continue;
            }
            status = 0;
            return errno == ECHILD ? 0 : throw SyscallError.Create("waitpid", null, errno);
        }
    }

    public static void Dup2(int oldFd, int newFd) =>
        SyscallError.ThrowIfNegative(LibC.dup2(oldFd, newFd), "dup2");

    /// <summary>Opens a path for reading and writing without O_CLOEXEC, for stdio wiring.</summary>
    public static int OpenReadWrite(string path, bool noctty = true)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            int fd = LibC.open(p, LibC.O_RDWR | (noctty ? LibC.O_NOCTTY : 0));
            return (int)SyscallError.ThrowIfNegative(fd, "open", path);
        }
    }

    public static int GetPid() => LibC.getpid();

    /// <summary>setsid(2): leaves the caller's session and process group (the caller must not lead a group).</summary>
    public static void NewSession() => SyscallError.ThrowIfNegative(LibC.setsid(), "setsid");
}
