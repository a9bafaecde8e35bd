using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// posix_spawn(3) with file actions: how the guest agent starts container processes and how the
/// host starts OCI hooks (whose argv[0] may differ from the executable, e.g. Docker's
/// "libnetwork-setkey"). glibc runs the child with clone(CLONE_VM|CLONE_VFORK) and only
/// async-signal-safe code until execve, so no managed code ever runs between fork and exec.
/// </summary>
public static unsafe partial class Spawn
{
    // glibc spawn.h.
    public const short POSIX_SPAWN_SETPGROUP = 0x02;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETSID = 0x80;

    /// <summary>sizeof(posix_spawn_file_actions_t) is 80 and sizeof(posix_spawnattr_t) 336 on glibc x86_64/arm64; we over-allocate.</summary>
    internal const int OpaqueSize = 1024;

    /// <summary>sizeof(sigset_t) in glibc (1024 bits).</summary>
    internal const int SigsetSize = 128;

    [LibraryImport("libc")]
    private static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_addclosefrom_np(void* fileActions, int from);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_init(void* attr);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigmask(void* attr, void* sigmask);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigdefault(void* attr, void* sigdefault);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setpgroup(void* attr, int pgroup);

    [LibraryImport("libc")]
    private static partial int sigemptyset(void* set);

    [LibraryImport("libc")]
    private static partial int sigfillset(void* set);

    /// <summary>This process's environment as the "KEY=VALUE" list <see cref="Start(string, IReadOnlyList{string}, IReadOnlyList{string}, ReadOnlySpan{int}, SpawnFlags)"/> takes.</summary>
    public static List<string> CurrentEnvironment()
    {
        var env = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            env.Add($"{e.Key}={e.Value}");
        }
        return env;
    }

    /// <summary>
    /// Starts <paramref name="path"/> (no PATH search) with exactly <paramref name="argv"/> and
    /// <paramref name="envp"/> ("KEY=VALUE"); <paramref name="fds"/>[i] becomes fd i in the child
    /// and, with <see cref="SpawnFlags.CloseOtherFds"/>, no other descriptor reaches it, CLOEXEC or
    /// not (glibc 2.34+). The child gets an empty signal mask and default dispositions (.NET ignores
    /// SIGPIPE, which exec would otherwise pass on). Returns the child's pid; the caller reaps it.
    /// </summary>
    public static int Start(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp, ReadOnlySpan<int> fds, SpawnFlags flags)
    {
        byte[] pathZ = CString.Utf8(path);
        using var args = new CStringArray(argv);
        using var env = new CStringArray(envp);
        var lifted = new List<SafeFd>();
        void* actions = NativeMemory.AllocZeroed(OpaqueSize);
        void* attr = NativeMemory.AllocZeroed(OpaqueSize);
        void* sigset = NativeMemory.AllocZeroed(SigsetSize);
        try
        {
            int[] sources = fds.ToArray();
            for (int i = 0; i < sources.Length; i++)
            {
                if (sources[i] < sources.Length)
                {
                    // dup2(fd, fd) would keep FD_CLOEXEC, and a low source could be overwritten
                    // by an earlier dup2: lift it above the targets first.
                    int high = LibC.fcntl(sources[i], LibC.F_DUPFD_CLOEXEC, sources.Length);
                    if (high < 0)
                    {
                        throw SyscallError.Create("fcntl", null, LibC.errno);
                    }
                    lifted.Add(new SafeFd(high));
                    sources[i] = high;
                }
            }
            // SAFETY: actions, attr and sigset are zeroed native buffers larger than the glibc
            // types; every init is paired with a destroy in the finally block below.
            Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init", path);
            Check(posix_spawnattr_init(attr), "posix_spawnattr_init", path);
            try
            {
                for (int i = 0; i < sources.Length; i++)
                {
                    Check(posix_spawn_file_actions_adddup2(actions, sources[i], i), "posix_spawn_file_actions_adddup2", path);
                }
                if ((flags & SpawnFlags.CloseOtherFds) != 0)
                {
                    Check(posix_spawn_file_actions_addclosefrom_np(actions, sources.Length), "posix_spawn_file_actions_addclosefrom_np", path);
                }
                short attrFlags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
                if ((flags & SpawnFlags.NewSession) != 0)
                {
                    attrFlags |= POSIX_SPAWN_SETSID;
                }
                if ((flags & SpawnFlags.NewProcessGroup) != 0)
                {
                    attrFlags |= POSIX_SPAWN_SETPGROUP;
                    Check(posix_spawnattr_setpgroup(attr, 0), "posix_spawnattr_setpgroup", path);
                }
                Check(posix_spawnattr_setflags(attr, attrFlags), "posix_spawnattr_setflags", path);
                _ = sigemptyset(sigset);
                Check(posix_spawnattr_setsigmask(attr, sigset), "posix_spawnattr_setsigmask", path);
                // glibc skips SIGKILL/SIGSTOP itself; every handler the runtime set is reset.
                _ = sigfillset(sigset);
                Check(posix_spawnattr_setsigdefault(attr, sigset), "posix_spawnattr_setsigdefault", path);
                int pid = 0;
                fixed (byte* p = pathZ)
                {
                    // SAFETY: p, args and env are NUL-terminated strings / NULL-terminated arrays
                    // that stay alive (pinned or native) for the call; pid is a local.
                    Check(posix_spawn(&pid, p, actions, attr, args.Pointer, env.Pointer), "posix_spawn", path);
                }
                return pid;
            }
            finally
            {
                _ = posix_spawn_file_actions_destroy(actions);
                _ = posix_spawnattr_destroy(attr);
            }
        }
        finally
        {
            foreach (SafeFd fd in lifted)
            {
                fd.Dispose();
            }
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
        }
    }

    /// <summary><see cref="Start(string, IReadOnlyList{string}, IReadOnlyList{string}, ReadOnlySpan{int}, SpawnFlags)"/> with owned stdio handles kept alive for the call.</summary>
    public static int Start(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp, ReadOnlySpan<SafeFd> stdio, SpawnFlags flags)
    {
        var refs = new List<SafeFd>(stdio.Length);
        try
        {
            int[] fds = new int[stdio.Length];
            for (int i = 0; i < stdio.Length; i++)
            {
                bool added = false;
                stdio[i].DangerousAddRef(ref added);
                refs.Add(stdio[i]);
                fds[i] = stdio[i].Fd;
            }
            return Start(path, argv, envp, fds, flags);
        }
        finally
        {
            foreach (SafeFd fd in refs)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the process group <paramref name="pgid"/> (a child started
    /// with <see cref="SpawnFlags.NewProcessGroup"/> and not yet reaped, so its id cannot have been reused). ESRCH is ignored.
    /// </summary>
    public static void KillProcessGroup(int pgid, int signal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pgid, 1);
        if (LibC.killpg(pgid, signal) < 0 && LibC.errno != LibC.ESRCH)
        {
            throw SyscallError.Create("killpg", null, LibC.errno);
        }
    }

    // posix_spawn* return the error number instead of setting errno.
    private static void Check(int rc, string call, string path)
    {
        if (rc != 0)
        {
            throw SyscallError.Create(call, path, rc);
        }
    }
}
