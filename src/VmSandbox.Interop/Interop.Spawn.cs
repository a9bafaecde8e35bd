using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// posix_spawn(3) with file actions: the one way the guest agent starts processes. glibc runs the
/// child with clone(CLONE_VM|CLONE_VFORK) and only async-signal-safe code until execve, so no
/// managed code ever runs between fork and exec (the agent is multi-threaded).
/// </summary>
public static unsafe partial class Spawn
{
    // glibc spawn.h.
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
    private static partial int sigemptyset(void* set);

    [LibraryImport("libc")]
    private static partial int sigfillset(void* set);

    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="argv"/> and <paramref name="envp"/>;
    /// <paramref name="fds"/>[i] becomes fd i in the child (every other fd of the agent is
    /// O_CLOEXEC). The child gets an empty signal mask, default dispositions and, with
    /// <paramref name="newSession"/>, its own session. Returns the child's pid.
    /// </summary>
    public static int Start(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp, ReadOnlySpan<int> fds, bool newSession)
    {
        foreach (int fd in fds)
        {
            // dup2(fd, fd) would keep O_CLOEXEC set; callers pass descriptors above the targets.
            if (fd < fds.Length)
            {
                throw new ArgumentException($"spawn {path}: source fd {fd} overlaps the child's fds", nameof(fds));
            }
        }
        byte[] pathZ = CString.Utf8(path);
        using var args = new CStringArray(argv);
        using var env = new CStringArray(envp);
        void* actions = NativeMemory.AllocZeroed(OpaqueSize);
        void* attr = NativeMemory.AllocZeroed(OpaqueSize);
        void* sigset = NativeMemory.AllocZeroed(SigsetSize);
        try
        {
            // SAFETY: actions, attr and sigset are zeroed native buffers larger than the glibc
            // types; every init is paired with a destroy in the finally block below.
            Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init", path);
            Check(posix_spawnattr_init(attr), "posix_spawnattr_init", path);
            try
            {
                for (int i = 0; i < fds.Length; i++)
                {
                    Check(posix_spawn_file_actions_adddup2(actions, fds[i], i), "posix_spawn_file_actions_adddup2", path);
                }
                short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
                if (newSession)
                {
                    flags |= POSIX_SPAWN_SETSID;
                }
                Check(posix_spawnattr_setflags(attr, flags), "posix_spawnattr_setflags", path);
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
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
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
