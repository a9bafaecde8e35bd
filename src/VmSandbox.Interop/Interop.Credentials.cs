using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// setgroups(2), setresgid(2), setresuid(2). These are the raw syscalls, which act on the
/// calling thread only (glibc's wrappers broadcast to every thread with a signal): the caller
/// execs from this thread right after, and execve keeps only it.
/// </summary>
public static unsafe partial class Credentials
{
    // arch/x86/entry/syscalls/syscall_64.tbl
    private const long SYS_setresuid = 117;
    private const long SYS_setresgid = 119;
    private const long SYS_setgroups = 116;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall3(long nr, long a, long b, long c);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall_setgroups(long nr, long size, uint* list);

    public static void SetGroups(IReadOnlyList<uint> gids)
    {
        uint[] list = [.. gids];
        fixed (uint* p = list)
        {
            // SAFETY: p points at list.Length pinned gids (null when empty, with size 0).
            if (syscall_setgroups(SYS_setgroups, list.Length, p) < 0)
            {
                throw SyscallError.Create("setgroups", null, Marshal.GetLastPInvokeError());
            }
        }
    }

    public static void SetGid(uint gid)
    {
        if (syscall3(SYS_setresgid, gid, gid, gid) < 0)
        {
            throw SyscallError.Create("setresgid", $"gid {gid}", Marshal.GetLastPInvokeError());
        }
    }

    public static void SetUid(uint uid)
    {
        if (syscall3(SYS_setresuid, uid, uid, uid) < 0)
        {
            throw SyscallError.Create("setresuid", $"uid {uid}", Marshal.GetLastPInvokeError());
        }
    }
}
