using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>mount(2), umount2(2), pivot_root(2) and chroot(2).</summary>
public static unsafe partial class Mount
{
    // include/uapi/linux/mount.h
    public const ulong MS_RDONLY = 1;
    public const ulong MS_NOSUID = 2;
    public const ulong MS_NODEV = 4;
    public const ulong MS_NOEXEC = 8;
    public const ulong MS_SYNCHRONOUS = 16;
    public const ulong MS_REMOUNT = 32;
    public const ulong MS_MANDLOCK = 64;
    public const ulong MS_DIRSYNC = 128;
    public const ulong MS_NOSYMFOLLOW = 256;
    public const ulong MS_NOATIME = 1024;
    public const ulong MS_NODIRATIME = 2048;
    public const ulong MS_BIND = 4096;
    public const ulong MS_MOVE = 8192;
    public const ulong MS_REC = 16384;
    public const ulong MS_SILENT = 32768;
    public const ulong MS_POSIXACL = 1 << 16;
    public const ulong MS_UNBINDABLE = 1 << 17;
    public const ulong MS_PRIVATE = 1 << 18;
    public const ulong MS_SLAVE = 1 << 19;
    public const ulong MS_SHARED = 1 << 20;
    public const ulong MS_RELATIME = 1 << 21;
    public const ulong MS_I_VERSION = 1 << 23;
    public const ulong MS_STRICTATIME = 1 << 24;
    public const ulong MS_LAZYTIME = 1 << 25;

    public const int MNT_DETACH = 2;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall_pivot_root(long nr, byte* newRoot, byte* putOld);

    [LibraryImport("libc", EntryPoint = "chroot", SetLastError = true)]
    private static partial int chroot(byte* path);

    // arch/x86/entry/syscalls/syscall_64.tbl
    private const long SYS_pivot_root = 155;

    /// <summary>Mounts, throwing a <see cref="VmSandbox.Common.VmSandboxException"/> naming the target on failure.</summary>
    public static void Do(string source, string target, string fsType, ulong flags, string? data = null)
    {
        byte[] src = CString.Utf8(source);
        byte[] tgt = CString.Utf8(target);
        byte[] fs = CString.Utf8(fsType);
        byte[]? dat = data is null ? null : CString.Utf8(data);
        fixed (byte* pSrc = src, pTgt = tgt, pFs = fs, pDat = dat)
        {
            // SAFETY: every pointer is a pinned, NUL-terminated buffer that outlives the call;
            // pDat is null when data is null, which mount(2) accepts.
            int rc = LibC.mount(pSrc, pTgt, pFs, (ulong_t)flags, pDat);
            SyscallError.ThrowIfNegative(rc, "mount", target);
        }
    }

    public static void Unmount(string target, int flags = 0)
    {
        fixed (byte* p = CString.Utf8(target))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            SyscallError.ThrowIfNegative(LibC.umount2(p, flags), "umount2", target);
        }
    }

    /// <summary>Like <see cref="Unmount"/>, but returns the errno instead of throwing (0 on success).</summary>
    public static int TryUnmount(string target, int flags = 0)
    {
        fixed (byte* p = CString.Utf8(target))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            return LibC.umount2(p, flags) < 0 ? LibC.errno : 0;
        }
    }

    /// <summary>Like <see cref="Do"/>, but returns the errno instead of throwing (0 on success).</summary>
    public static int TryDo(string source, string target, string fsType, ulong flags, string? data = null)
    {
        try
        {
            Do(source, target, fsType, flags, data);
            return 0;
        }
        catch (VmSandbox.Common.VmSandboxException e)
        {
            return e.Errno;
        }
    }

    /// <summary>pivot_root(2); returns the errno instead of throwing (EINVAL when the root is the initramfs).</summary>
    public static int TryPivotRoot(string newRoot, string putOld)
    {
        fixed (byte* n = CString.Utf8(newRoot), o = CString.Utf8(putOld))
        {
            // SAFETY: n and o are pinned, NUL-terminated buffers.
            return syscall_pivot_root(SYS_pivot_root, n, o) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }

    public static void ChangeRoot(string path)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            if (chroot(p) < 0)
            {
                throw SyscallError.Create("chroot", path, Marshal.GetLastPInvokeError());
            }
        }
    }
}
