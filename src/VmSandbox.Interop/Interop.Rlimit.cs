using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>prlimit(2) on the calling process.</summary>
public static unsafe partial class Rlimits
{
    /// <summary>struct rlimit (16 bytes on LP64).</summary>
    // C name kept on purpose (STYLE.md).
#pragma warning disable CS8981
    [StructLayout(LayoutKind.Sequential)]
    public struct rlimit
    {
        public ulong rlim_cur;
        public ulong rlim_max;
    }
#pragma warning restore CS8981

    [LibraryImport("libc", EntryPoint = "prlimit", SetLastError = true)]
    private static partial int prlimit(int pid, int resource, rlimit* newLimit, rlimit* oldLimit);

    public static void Set(int resource, ulong soft, ulong hard) => Set(0, resource, soft, hard);

    /// <summary>Sets another process's limit (prlimit(2); raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace).</summary>
    public static void Set(int pid, int resource, ulong soft, ulong hard)
    {
        var limit = new rlimit { rlim_cur = soft, rlim_max = hard };
        // SAFETY: &limit is a local struct; a null old-limit pointer is allowed.
        if (prlimit(pid, resource, &limit, null) < 0)
        {
            throw SyscallError.Create("prlimit", $"resource {resource}", Marshal.GetLastPInvokeError());
        }
    }
}
