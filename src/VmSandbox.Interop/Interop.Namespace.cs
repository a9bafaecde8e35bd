using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>unshare(2), setns(2), sethostname(2) and setdomainname(2). All act on the calling thread.</summary>
public static unsafe partial class Namespaces
{
    // include/uapi/linux/sched.h
    public const int CLONE_FS = 0x00000200;
    public const int CLONE_NEWNS = 0x00020000;
    public const int CLONE_NEWCGROUP = 0x02000000;
    public const int CLONE_NEWUTS = 0x04000000;
    public const int CLONE_NEWIPC = 0x08000000;
    public const int CLONE_NEWUSER = 0x10000000;
    public const int CLONE_NEWPID = 0x20000000;
    public const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", EntryPoint = "unshare", SetLastError = true)]
    private static partial int unshare(int flags);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "sethostname", SetLastError = true)]
    private static partial int sethostname(byte* name, nuint len);

    [LibraryImport("libc", EntryPoint = "setdomainname", SetLastError = true)]
    private static partial int setdomainname(byte* name, nuint len);

    public static void Unshare(int flags)
    {
        if (unshare(flags) < 0)
        {
            throw SyscallError.Create("unshare", $"flags 0x{flags:x}", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Joins the namespace behind <paramref name="fd"/> (a /proc/PID/ns/* file); <paramref name="what"/> names it in errors.</summary>
    public static void Join(SafeFd fd, int nstype, string what)
    {
        if (setns(fd.Fd, nstype) < 0)
        {
            throw SyscallError.Create("setns", what, Marshal.GetLastPInvokeError());
        }
    }

    public static void SetHostName(string name)
    {
        byte[] b = System.Text.Encoding.UTF8.GetBytes(name);
        fixed (byte* p = b)
        {
            // SAFETY: p points at b.Length pinned bytes; no terminator needed with a length.
            if (sethostname(p, (nuint)b.Length) < 0)
            {
                throw SyscallError.Create("sethostname", name, Marshal.GetLastPInvokeError());
            }
        }
    }

    public static void SetDomainName(string name)
    {
        byte[] b = System.Text.Encoding.UTF8.GetBytes(name);
        fixed (byte* p = b)
        {
            // SAFETY: p points at b.Length pinned bytes; no terminator needed with a length.
            if (setdomainname(p, (nuint)b.Length) < 0)
            {
                throw SyscallError.Create("setdomainname", name, Marshal.GetLastPInvokeError());
            }
        }
    }
}
