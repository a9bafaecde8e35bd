using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>mount(2), umount2(2), mount_setattr(2), pivot_root(2) and chroot(2).</summary>
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

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall_mount_setattr(long nr, int dirfd, byte* path, uint flags, MountAttr* attr, nuint size);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall_open_tree(long nr, int dirfd, byte* path, uint flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall_move_mount(long nr, int fromDirfd, byte* fromPath, int toDirfd, byte* toPath, uint flags);

    // arch/x86/entry/syscalls/syscall_64.tbl
    private const long SYS_open_tree = 428;
    private const long SYS_move_mount = 429;
    private const uint OPEN_TREE_CLONE = 1;
    private const uint OPEN_TREE_CLOEXEC = 0x80000;
    private const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    private const long SYS_pivot_root = 155;
    private const long SYS_mount_setattr = 442;
    private const int AT_FDCWD = -100;
    private const uint AT_RECURSIVE = 0x8000;

    // include/uapi/linux/mount.h: MOUNT_ATTR_*
    public const ulong MOUNT_ATTR_RDONLY = 0x1;
    public const ulong MOUNT_ATTR_NOSUID = 0x2;
    public const ulong MOUNT_ATTR_NODEV = 0x4;
    public const ulong MOUNT_ATTR_NOEXEC = 0x8;
    /// <summary>The atime mode field: set it in attr_clr to change the mode to one of the next three.</summary>
    public const ulong MOUNT_ATTR__ATIME = 0x70;
    public const ulong MOUNT_ATTR_RELATIME = 0x0;
    public const ulong MOUNT_ATTR_NOATIME = 0x10;
    public const ulong MOUNT_ATTR_STRICTATIME = 0x20;
    public const ulong MOUNT_ATTR_NODIRATIME = 0x80;
    public const ulong MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

    /// <summary>struct mount_attr (MOUNT_ATTR_SIZE_VER0, 32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttr
    {
        public ulong AttrSet;
        public ulong AttrClr;
        public ulong Propagation;
        public ulong UsernsFd;
    }

    /// <summary>mount_setattr(2) with AT_RECURSIVE: sets and clears MOUNT_ATTR_* on <paramref name="target"/> and every mount below it (Linux 5.12+).</summary>
    public static void SetAttributesRecursively(string target, ulong set, ulong clear)
    {
        var attr = new MountAttr { AttrSet = set, AttrClr = clear };
        fixed (byte* p = CString.Utf8(target))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer; attr lives on this frame for the call
            // and its size is passed along.
            if (syscall_mount_setattr(SYS_mount_setattr, AT_FDCWD, p, AT_RECURSIVE, &attr, (nuint)sizeof(MountAttr)) < 0)
            {
                throw SyscallError.Create("mount_setattr", target, Marshal.GetLastPInvokeError());
            }
        }
    }

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

    /// <summary>
    /// open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE: a detached copy of the mounts at
    /// <paramref name="path"/> (a recursive bind not yet attached anywhere), which
    /// <see cref="MoveDetached"/> can attach in another mount namespace (Linux 5.2+).
    /// </summary>
    public static SafeFd CloneTree(string path)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            long fd = syscall_open_tree(SYS_open_tree, AT_FDCWD, p, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
            if (fd < 0)
            {
                throw SyscallError.Create("open_tree", path, Marshal.GetLastPInvokeError());
            }
            return new SafeFd((int)fd);
        }
    }

    /// <summary>move_mount(2): attaches the detached tree <paramref name="tree"/> at <paramref name="target"/>.</summary>
    public static void MoveDetached(SafeFd tree, string target)
    {
        byte empty = 0;
        fixed (byte* p = CString.Utf8(target))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer; &empty is an empty C string on this frame.
            if (syscall_move_mount(SYS_move_mount, tree.Fd, &empty, AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            {
                throw SyscallError.Create("move_mount", target, Marshal.GetLastPInvokeError());
            }
        }
    }
}
