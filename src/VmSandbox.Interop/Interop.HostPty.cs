using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// Unix 98 pseudo-terminals on the host: posix_openpt, grantpt, unlockpt, ptsname_r and opening
/// the peer (slave) side (terminal operations on them are <see cref="Pty"/>'s). Used for runc's
/// --console-socket, where the master goes to the caller and the monitor keeps the peer.
/// </summary>
public static unsafe partial class HostPty
{
    private const int PathMax = 4096;

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int posix_openpt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int grantpt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int unlockpt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r")]
    private static partial int ptsname_r(int fd, byte* buf, nuint buflen);

    /// <summary>A new master, O_RDWR|O_NOCTTY|O_CLOEXEC, granted and unlocked so its peer can be opened.</summary>
    public static SafeFd OpenMaster()
    {
        // SAFETY: no pointers involved.
        int fd = posix_openpt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            throw SyscallError.Create("posix_openpt", null, Marshal.GetLastPInvokeError());
        }
        var master = new SafeFd(fd);
        // SAFETY: fd is the master just opened and owned by `master`; no pointers involved.
        string? failed = grantpt(fd) < 0 ? "grantpt" : unlockpt(fd) < 0 ? "unlockpt" : null;
        if (failed is not null)
        {
            int errno = Marshal.GetLastPInvokeError();
            master.Dispose();
            throw SyscallError.Create(failed, null, errno);
        }
        return master;
    }

    /// <summary>The peer's path, e.g. "/dev/pts/3".</summary>
    public static string PeerName(SafeFd master)
    {
        bool added = false;
        master.DangerousAddRef(ref added);
        try
        {
            byte* buf = stackalloc byte[PathMax];
            // SAFETY: buf holds PathMax bytes; ptsname_r writes a NUL-terminated name within them.
            int rc = ptsname_r(master.Fd, buf, PathMax);
            if (rc != 0)
            {
                throw SyscallError.Create("ptsname_r", null, rc);
            }
            return Marshal.PtrToStringUTF8((IntPtr)buf)!;
        }
        finally
        {
            if (added)
            {
                master.DangerousRelease();
            }
        }
    }

    /// <summary>Opens the master's peer O_RDWR|O_NOCTTY|O_CLOEXEC.</summary>
    public static SafeFd OpenPeer(SafeFd master)
    {
        string name = PeerName(master);
        fixed (byte* p = CString.Utf8(name))
        {
            // SAFETY: p is a pinned, NUL-terminated path.
            int fd = LibC.open(p, LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC);
            if (fd < 0)
            {
                throw SyscallError.Create("open", name, LibC.errno);
            }
            return new SafeFd(fd);
        }
    }
}
