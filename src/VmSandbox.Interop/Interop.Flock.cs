using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// flock(2): an advisory lock on an open file description. The kernel drops it when the last
/// descriptor of that description closes, so a process that dies holding it (SIGKILL) frees it,
/// and a child never inherits it past exec (descriptors here are O_CLOEXEC).
/// </summary>
public static partial class FileLock
{
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    private const int EWOULDBLOCK = 11;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    /// <summary>
    /// Takes the exclusive lock without waiting: true when this description now holds it, false
    /// when another one does (EWOULDBLOCK).
    /// </summary>
    public static bool TryLockExclusive(SafeFd fd, string what)
    {
        int rc = Eintr.Retry(() => flock(fd.Fd, LOCK_EX | LOCK_NB));
        if (rc == 0)
        {
            return true;
        }
        int errno = Marshal.GetLastPInvokeError();
        return errno == EWOULDBLOCK ? false : throw SyscallError.Create("flock", what, errno);
    }
}
