using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>unshare(2), setns(2), sethostname(2) and setdomainname(2). All act on the calling <em>thread</em> only.</summary>
public static unsafe partial class Namespace
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

    [LibraryImport("libc", EntryPoint = "sethostname", SetLastError = true)]
    private static partial int sethostname(byte* name, nuint len);

    [LibraryImport("libc", EntryPoint = "setdomainname", SetLastError = true)]
    private static partial int setdomainname(byte* name, nuint len);

    public static void Unshare(int flags) =>
        SyscallError.ThrowIfNegative(LibC.unshare(flags), "unshare", $"flags 0x{flags:x}");

    /// <summary>Joins the namespace that <paramref name="path"/> (e.g. /proc/PID/ns/net) refers to.</summary>
    public static void Join(string path, int nsType)
    {
        using SafeFd fd = SafeFd.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        SyscallError.ThrowIfNegative(LibC.setns(fd.Fd, nsType), "setns", path);
    }

    /// <summary>Joins the namespace behind <paramref name="fd"/> (a /proc/PID/ns/* file); <paramref name="what"/> names it in errors.</summary>
    public static void Join(SafeFd fd, int nsType, string what) =>
        SyscallError.ThrowIfNegative(LibC.setns(fd.Fd, nsType), "setns", what);

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
