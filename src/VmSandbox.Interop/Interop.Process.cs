using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>waitpid(2), kill(2) and friends.</summary>
public static unsafe partial class ProcessCalls
{
    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int waitpid(int pid, int* status, int options);

    public const int WNOHANG = 1;
    public const int ECHILD = 10;

    /// <summary>
    /// waitpid(<paramref name="pid"/>, -1 for any child): the pid of an exited child and its wait
    /// status; 0 when there is no such child (or, with <see cref="WNOHANG"/>, it has not exited
    /// yet). Retries on EINTR.
    /// </summary>
    public static int WaitChild(int pid, int options, out int status)
    {
        int st = 0;
        int* result = &st;
        // SAFETY: result points to a local int of this frame, alive for the call.
        int reaped = Eintr.Retry(() => waitpid(pid, result, options));
        if (reaped >= 0)
        {
            status = st;
            return reaped;
        }
        int errno = Marshal.GetLastPInvokeError();
        status = 0;
        return errno == ECHILD ? 0 : throw SyscallError.Create("waitpid", null, errno);
    }

    /// <summary>getppid(2).</summary>
    public static int GetParentPid() => LibC.getppid();

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

    /// <summary>Whether <paramref name="fd"/> is an open descriptor of this process (fcntl F_GETFD).</summary>
    public static bool IsOpen(int fd) => LibC.fcntl(fd, LibC.F_GETFD) >= 0;

    [LibraryImport("libc", EntryPoint = "close_range", SetLastError = true)]
    private static partial int close_range(uint first, uint last, int flags);

    private const int CLOSE_RANGE_CLOEXEC = 4;

    /// <summary>
    /// Marks every descriptor from <paramref name="firstFd"/> up close-on-exec (close_range(2)):
    /// a long-lived process started next inherits none of what this one was given by its caller
    /// (a lock's descriptor, a shim's pipes). False if the kernel refused (before 5.11).
    /// </summary>
    public static bool TrySetCloseOnExecFrom(int firstFd) => close_range((uint)firstFd, uint.MaxValue, CLOSE_RANGE_CLOEXEC) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static partial int execve(byte* path, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    private static partial int setsid();

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    private const int ESRCH = 3;
    private const int O_CLOEXEC = 0x80000;
    private const int F_DUPFD_CLOEXEC = 1030;
    private const int F_SETFD = 2;
    private const int FD_CLOEXEC = 1;

    /// <summary>kill(2); returns false when the process no longer exists.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (kill(pid, signal) == 0)
        {
            return true;
        }
        int errno = Marshal.GetLastPInvokeError();
        return errno == ESRCH ? false : throw SyscallError.Create("kill", $"pid {pid}", errno);
    }

    /// <summary>execve(2); returns only on failure, with the errno.</summary>
    public static int Exec(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp)
    {
        using var args = new CStringArray(argv);
        using var env = new CStringArray(envp);
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is pinned and NUL-terminated; args and env are NULL-terminated native arrays.
            _ = execve(p, args.Pointer, env.Pointer);
            return Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>A pipe (O_CLOEXEC on both ends): (read end, write end).</summary>
    public static (SafeFd Read, SafeFd Write) CreatePipe()
    {
        int* fds = stackalloc int[2];
        // SAFETY: fds points at two writable ints on the stack.
        if (pipe2(fds, O_CLOEXEC) < 0)
        {
            throw SyscallError.Create("pipe2", null, Marshal.GetLastPInvokeError());
        }
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>Clears FD_CLOEXEC: <paramref name="fd"/> is inherited across exec (tests stand in for a caller's descriptor with it).</summary>
    public static void ClearCloseOnExec(int fd)
    {
        if (fcntl(fd, F_SETFD, 0) < 0)
        {
            throw SyscallError.Create("fcntl(F_SETFD)", null, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Duplicates <paramref name="fd"/> to the lowest free descriptor at or above <paramref name="minFd"/>, O_CLOEXEC.</summary>
    public static SafeFd DuplicateAbove(int fd, int minFd)
    {
        int n = fcntl(fd, F_DUPFD_CLOEXEC, minFd);
        return n < 0 ? throw SyscallError.Create("fcntl(F_DUPFD_CLOEXEC)", null, Marshal.GetLastPInvokeError()) : new SafeFd(n);
    }

    public static void SetCloseOnExec(int fd)
    {
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        {
            throw SyscallError.Create("fcntl(F_SETFD)", null, Marshal.GetLastPInvokeError());
        }
    }

    [LibraryImport("libc", EntryPoint = "signal", SetLastError = true)]
    private static partial nint signal(int sig, nint handler);

    [LibraryImport("libc", EntryPoint = "pthread_sigmask")]
    private static partial int pthread_sigmask(int how, byte* set, byte* oldSet);

    private const int SIG_SETMASK = 2;

    /// <summary>
    /// Unblocks every signal on the calling thread and resets every disposition to SIG_DFL, so
    /// that a program exec'd from a managed process (whose runtime ignores SIGPIPE and may block
    /// signals) starts clean, as runc's child does.
    /// </summary>
    public static void ResetSignalsForExec()
    {
        byte* empty = stackalloc byte[128];
        new Span<byte>(empty, 128).Clear();
        // SAFETY: empty is a zeroed 128-byte sigset_t on the stack; the old mask is not wanted.
        _ = pthread_sigmask(SIG_SETMASK, empty, null);
        for (int sig = 1; sig < 65; sig++)
        {
            // SIGKILL and SIGSTOP cannot change; 32 and 33 belong to glibc's threads.
            if (sig is 9 or 19 or 32 or 33)
            {
                continue;
            }
            _ = signal(sig, 0);
        }
    }

    /// <summary>Sets <paramref name="sig"/>'s disposition back to SIG_DFL for the whole process.</summary>
    public static void RestoreDefaultDisposition(int sig)
    {
        if (signal(sig, 0) == -1)
        {
            throw SyscallError.Create("signal", null, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>setsid(2); returns false if the caller already leads a process group (EPERM).</summary>
    public static bool NewSession() => setsid() >= 0;
}
