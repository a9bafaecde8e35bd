using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>unshare(2) and setns(2). Both act on the calling <em>thread</em> only.</summary>
public static class Namespace
{
    public const int CLONE_NEWNS = 0x00020000;
    public const int CLONE_NEWUTS = 0x04000000;
    public const int CLONE_NEWIPC = 0x08000000;
    public const int CLONE_NEWPID = 0x20000000;
    public const int CLONE_NEWNET = 0x40000000;
    public const int CLONE_NEWCGROUP = 0x02000000;

    public static void Unshare(int flags) =>
        SyscallError.ThrowIfNegative(LibC.unshare(flags), "unshare");

    /// <summary>Joins the namespace that <paramref name="path"/> (e.g. /proc/PID/ns/net) refers to.</summary>
    public static void Join(string path, int nsType)
    {
        using SafeFd fd = SafeFd.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        SyscallError.ThrowIfNegative(LibC.setns(fd.Fd, nsType), "setns", path);
    }
}
