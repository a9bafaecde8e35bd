using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// pidfd_open(2), pidfd_send_signal(2) and waitid(P_PIDFD) (Linux 5.4+): signal and reap one
/// child through a descriptor, so a recycled pid is never hit. The descriptor polls readable
/// once the process has exited.
/// </summary>
public static unsafe partial class PidFd
{
    // The same numbers on x86_64 and arm64 (the unified syscall table).
    private const long SYS_pidfd_send_signal = 424;
    private const long SYS_pidfd_open = 434;
    private const int P_PIDFD = 3;
    private const int WNOHANG = 1;
    private const int WEXITED = 4;
    private const int WNOWAIT = 0x01000000;
    private const int CLD_EXITED = 1;
    private const int CLD_KILLED = 2;
    private const int CLD_DUMPED = 3;
    private const int SiginfoSize = 128;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4);

    [LibraryImport("libc", EntryPoint = "waitid", SetLastError = true)]
    private static partial int waitid(int idtype, int id, byte* infop, int options);

    /// <summary>A pidfd (O_CLOEXEC is implied) for <paramref name="pid"/>; ESRCH when it is gone.</summary>
    public static SafeFd Open(int pid)
    {
        // SAFETY: no pointers involved.
        long fd = syscall(SYS_pidfd_open, pid, 0, 0, 0);
        if (fd < 0)
        {
            throw SyscallError.Create("pidfd_open", $"pid {pid}", Marshal.GetLastPInvokeError());
        }
        return new SafeFd((int)fd);
    }

    /// <summary>Sends <paramref name="signal"/>; false when the process has already exited (ESRCH).</summary>
    public static bool SendSignal(SafeFd pidfd, int signal)
    {
        bool added = false;
        pidfd.DangerousAddRef(ref added);
        try
        {
            // SAFETY: siginfo NULL means "as kill(2)"; the fd is kept alive by the AddRef.
            if (syscall(SYS_pidfd_send_signal, pidfd.Fd, signal, 0, 0) == 0)
            {
                return true;
            }
            int errno = Marshal.GetLastPInvokeError();
            return errno == LibC.ESRCH ? false : throw SyscallError.Create("pidfd_send_signal", null, errno);
        }
        finally
        {
            if (added)
            {
                pidfd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Reaps the child (blocking unless <paramref name="block"/> is false). Returns null when it has
    /// not exited yet (non-blocking only). With <paramref name="keep"/> (WNOWAIT) the status is read
    /// and the child left a zombie, for whoever reaps it (a subreaper above us, once we exit).
    /// </summary>
    public static ChildExit? Wait(SafeFd pidfd, bool block, bool keep = false)
    {
        bool added = false;
        pidfd.DangerousAddRef(ref added);
        try
        {
            byte* info = stackalloc byte[SiginfoSize];
            // SAFETY: info points at a 128-byte siginfo_t on the stack, zeroed before each try.
            int rc = Eintr.Retry(() =>
            {
                new Span<byte>(info, SiginfoSize).Clear();
                return waitid(P_PIDFD, pidfd.Fd, info, WEXITED | (block ? 0 : WNOHANG) | (keep ? WNOWAIT : 0));
            });
            if (rc != 0)
            {
                throw SyscallError.Create("waitid", null, Marshal.GetLastPInvokeError());
            }
            // siginfo_t for SIGCHLD: si_code at 8, si_pid at 16, si_status at 24. si_pid stays 0
            // when WNOHANG found nothing.
            int code = *(int*)(info + 8);
            int pid = *(int*)(info + 16);
            int status = *(int*)(info + 24);
            if (pid == 0)
            {
                return null;
            }
            return code switch
            {
                CLD_EXITED => new ChildExit(status, 0, false),
                CLD_KILLED => new ChildExit(-1, status, false),
                CLD_DUMPED => new ChildExit(-1, status, true),
                _ => new ChildExit(-1, status, false),
            };
        }
        finally
        {
            if (added)
            {
                pidfd.DangerousRelease();
            }
        }
    }
}
