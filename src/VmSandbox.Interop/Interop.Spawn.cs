using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// posix_spawn(3) for host helpers whose argv[0] differs from the executable (OCI hooks:
/// Docker's prestart hook is <c>/proc/PID/exe</c> with argv[0] "libnetwork-setkey"), which
/// System.Diagnostics.Process cannot express. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK)
/// and runs no managed code in the child, so it is safe in a multi-threaded NativeAOT process.
/// </summary>
public static unsafe partial class Spawn
{
    // glibc x86_64/arm64: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336; room to spare.
    private const int OpaqueSize = 512;
    private const short POSIX_SPAWN_SETPGROUP = 0x02;
    private const short POSIX_SPAWN_SETSIGDEF = 0x04;
    private const short POSIX_SPAWN_SETSIGMASK = 0x08;

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addclosefrom_np")]
    private static partial int posix_spawn_file_actions_addclosefrom_np(void* fileActions, int from);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int posix_spawnattr_init(void* attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setpgroup")]
    private static partial int posix_spawnattr_setpgroup(void* attr, int pgroup);

    /// <summary>
    /// Starts <paramref name="path"/> (no PATH search) with exactly <paramref name="argv"/> and
    /// <paramref name="envp"/> ("KEY=VALUE"), its fds 0, 1 and 2 dup'ed from <paramref name="stdio"/>
    /// and every other fd closed, every signal at its default disposition and none blocked (.NET
    /// ignores SIGPIPE, which exec would otherwise pass on). With <paramref name="newProcessGroup"/>
    /// the child leads a process group of its own, so <see cref="KillProcessGroup"/> reaches its
    /// descendants too. Returns the pid; the caller reaps it (see <see cref="PidFd"/>).
    /// </summary>
    public static int Start(string path, IReadOnlyList<string> argv, IReadOnlyList<string> envp, ReadOnlySpan<SafeFd> stdio, bool newProcessGroup)
    {
        if (stdio.Length != 3)
        {
            throw new ArgumentException("stdio needs exactly three descriptors", nameof(stdio));
        }
        var refs = new List<SafeFd>(3);
        var lifted = new List<SafeFd>(3);
        byte* fileActions = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte* attr = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte* sigset = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte** nativeArgv = CStringArray(argv);
        byte** nativeEnvp = CStringArray(envp);
        try
        {
            int[] sources = new int[3];
            for (int i = 0; i < 3; i++)
            {
                bool added = false;
                stdio[i].DangerousAddRef(ref added);
                refs.Add(stdio[i]);
                int fd = stdio[i].Fd;
                if (fd < 3)
                {
                    // dup2(fd, fd) would leave FD_CLOEXEC set on older glibc, and a low source
                    // could be overwritten by an earlier dup2: lift it above 2 first.
                    // SAFETY: fcntl on an fd kept alive by the AddRef above; no pointers involved.
                    int high = LibC.fcntl(fd, LibC.F_DUPFD_CLOEXEC, 3);
                    if (high < 0)
                    {
                        throw SyscallError.Create("fcntl", null, LibC.errno);
                    }
                    lifted.Add(new SafeFd(high));
                    fd = high;
                }
                sources[i] = fd;
            }
            // SAFETY: the opaque glibc objects live in zeroed native blocks larger than their
            // types; sigset is a 128-byte sigset_t inside a 512-byte block.
            Check(posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init", path);
            Check(posix_spawnattr_init(attr), "posix_spawnattr_init", path);
            try
            {
                for (int i = 0; i < 3; i++)
                {
                    Check(posix_spawn_file_actions_adddup2(fileActions, sources[i], i), "posix_spawn_file_actions_adddup2", path);
                }
                // glibc 2.34+: no descriptor of ours beyond stdio reaches the child, CLOEXEC or not.
                Check(posix_spawn_file_actions_addclosefrom_np(fileActions, 3), "posix_spawn_file_actions_addclosefrom_np", path);
                _ = LibC.sigfillset((sigset_t*)sigset);
                Check(posix_spawnattr_setsigdefault(attr, sigset), "posix_spawnattr_setsigdefault", path);
                _ = LibC.sigemptyset((sigset_t*)sigset);
                Check(posix_spawnattr_setsigmask(attr, sigset), "posix_spawnattr_setsigmask", path);
                short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
                if (newProcessGroup)
                {
                    flags |= POSIX_SPAWN_SETPGROUP;
                    Check(posix_spawnattr_setpgroup(attr, 0), "posix_spawnattr_setpgroup", path);
                }
                Check(posix_spawnattr_setflags(attr, flags), "posix_spawnattr_setflags", path);
                int pid = 0;
                fixed (byte* p = CString.Utf8(path))
                {
                    // SAFETY: p, argv and envp are NUL-terminated native buffers, alive for the call;
                    // posix_spawn returns once the child has exec'ed (or failed to).
                    Check(posix_spawn(&pid, p, fileActions, attr, nativeArgv, nativeEnvp), "posix_spawn", path);
                }
                return pid;
            }
            finally
            {
                _ = posix_spawn_file_actions_destroy(fileActions);
                _ = posix_spawnattr_destroy(attr);
            }
        }
        finally
        {
            foreach (SafeFd fd in refs)
            {
                fd.DangerousRelease();
            }
            foreach (SafeFd fd in lifted)
            {
                fd.Dispose();
            }
            FreeCStringArray(nativeArgv, argv.Count);
            FreeCStringArray(nativeEnvp, envp.Count);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the process group <paramref name="pgid"/> (a child started
    /// with newProcessGroup and not yet reaped, so its id cannot have been reused). ESRCH is ignored.
    /// </summary>
    public static void KillProcessGroup(int pgid, int signal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pgid, 1);
        // SAFETY: no pointers involved.
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

    private static byte** CStringArray(IReadOnlyList<string> items)
    {
        byte** array = (byte**)NativeMemory.AllocZeroed((nuint)(items.Count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < items.Count; i++)
        {
            array[i] = (byte*)Marshal.StringToCoTaskMemUTF8(items[i]);
        }
        return array;
    }

    private static void FreeCStringArray(byte** array, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Marshal.FreeCoTaskMem((IntPtr)array[i]);
        }
        NativeMemory.Free(array);
    }
}
