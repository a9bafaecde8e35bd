using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>statx(2) on an open descriptor or a path, and fchown(2).</summary>
public static unsafe class FileStat
{
    /// <summary>The size in bytes of the file behind <paramref name="fd"/> (AT_EMPTY_PATH).</summary>
    public static ulong GetSize(SafeHandle fd, string what)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            statx buf = default;
            byte empty = 0;
            // SAFETY: &empty is a NUL-terminated empty path, buf a stack local the kernel fills.
            if (LibC.statx((int)fd.DangerousGetHandle().ToInt64(), &empty, LibC.AT_EMPTY_PATH, LibC.STATX_SIZE, &buf) < 0)
            {
                throw SyscallError.Create("statx", what, LibC.errno);
            }
            return buf.stx_size;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// The link count of the file behind <paramref name="fd"/>: 0 once a directory or file it
    /// names was removed while the descriptor stayed open.
    /// </summary>
    public static uint GetLinkCount(SafeHandle fd, string what)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            statx buf = default;
            byte empty = 0;
            // SAFETY: &empty is a NUL-terminated empty path, buf a stack local the kernel fills.
            if (LibC.statx((int)fd.DangerousGetHandle().ToInt64(), &empty, LibC.AT_EMPTY_PATH, LibC.STATX_NLINK, &buf) < 0)
            {
                throw SyscallError.Create("statx", what, LibC.errno);
            }
            return buf.stx_nlink;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>Owner and device number (st_rdev as major:minor) of the file behind <paramref name="fd"/>, or of <paramref name="path"/> when fd is AT_FDCWD (-100).</summary>
    public static (uint Uid, uint Gid, uint RdevMajor, uint RdevMinor) GetOwner(int fd, string path = "")
    {
        statx buf = default;
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer (empty with AT_EMPTY_PATH), buf a
            // stack local the kernel fills.
            if (LibC.statx(fd, p, path.Length == 0 ? LibC.AT_EMPTY_PATH : 0, LibC.STATX_UID | LibC.STATX_GID | LibC.STATX_TYPE, &buf) < 0)
            {
                throw SyscallError.Create("statx", path.Length == 0 ? $"fd {fd}" : path, LibC.errno);
            }
        }
        return (buf.stx_uid, buf.stx_gid, buf.stx_rdev_major, buf.stx_rdev_minor);
    }

    /// <summary>
    /// The identity (device, inode) of what <paramref name="path"/> names, following symlinks:
    /// two namespace files (/proc/PID/ns/net, a bind mount of one) are the same namespace when equal.
    /// </summary>
    public static (ulong Device, ulong Inode) GetIdentity(string path)
    {
        statx buf = default;
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer, buf a stack local the kernel fills.
            if (LibC.statx(LibC.AT_FDCWD, p, 0, LibC.STATX_INO, &buf) < 0)
            {
                throw SyscallError.Create("statx", path, LibC.errno);
            }
        }
        return (((ulong)buf.stx_dev_major << 32) | buf.stx_dev_minor, buf.stx_ino);
    }

    /// <summary>S_IFREG: st_mode's file type of a regular file.</summary>
    public const uint S_IFREG = 0x8000;

    /// <summary>S_IFSOCK: st_mode's file type of a Unix socket.</summary>
    public const uint S_IFSOCK = 0xC000;

    /// <summary>Whether <paramref name="path"/> itself (not a symlink's target) is a socket; false when nothing is there.</summary>
    public static bool IsSocket(string path)
    {
        try
        {
            return GetFileType(path) == S_IFSOCK;
        }
        catch (VmSandbox.Common.VmSandboxException e) when (e.Errno == 2)
        {
            return false; // ENOENT
        }
    }

    /// <summary>The file type bits (st_mode &amp; S_IFMT) of <paramref name="path"/> itself, not following a symlink.</summary>
    public static uint GetFileType(string path)
    {
        statx buf = default;
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer, buf a stack local the kernel fills.
            if (LibC.statx(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE, &buf) < 0)
            {
                throw SyscallError.Create("statx", path, LibC.errno);
            }
        }
        return buf.stx_mode & 0xF000u; // S_IFMT
    }

    /// <summary>fchown(2); returns the errno instead of throwing (0 on success).</summary>
    public static int TryChown(int fd, uint uid, uint gid) => LibC.fchown(fd, uid, gid) < 0 ? LibC.errno : 0;
}
