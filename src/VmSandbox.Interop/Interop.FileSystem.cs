using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>open(2), chdir(2)/fchdir(2), mkdir(2), mknod(2), umask(2) and access(2): the path calls container setup and the container store need.</summary>
public static unsafe partial class FileSystemCalls
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_NOCTTY = 0x100;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const uint S_IFCHR = 0x2000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFIFO = 0x1000;

    public const int X_OK = 1;

    private const int EEXIST = 17;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int open(byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "chdir", SetLastError = true)]
    private static partial int chdir(byte* path);

    [LibraryImport("libc", EntryPoint = "fchdir", SetLastError = true)]
    private static partial int fchdir(int fd);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true)]
    private static partial int mkdir(byte* path, uint mode);

    [LibraryImport("libc", EntryPoint = "mknod", SetLastError = true)]
    private static partial int mknod(byte* path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint umask(uint mask);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true)]
    private static partial int access(byte* path, int mode);

    /// <summary>Opens <paramref name="path"/> (O_CLOEXEC is added).</summary>
    public static SafeFd Open(string path, int flags)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            int fd = open(p, flags | O_CLOEXEC, 0);
            return fd < 0 ? throw SyscallError.Create("open", path, Marshal.GetLastPInvokeError()) : new SafeFd(fd);
        }
    }

    public static void ChangeDirectory(string path)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            if (chdir(p) < 0)
            {
                throw SyscallError.Create("chdir", path, Marshal.GetLastPInvokeError());
            }
        }
    }

    public static void ChangeDirectory(SafeFd dir, string what)
    {
        if (fchdir(dir.Fd) < 0)
        {
            throw SyscallError.Create("fchdir", what, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// mkdir(2) of one directory (the umask applies to <paramref name="mode"/>): true when this
    /// call made it, false when something already exists at <paramref name="path"/> (EEXIST).
    /// The kernel makes it exclusive: of two racing callers, exactly one gets true.
    /// </summary>
    public static bool TryMakeDirectory(string path, uint mode)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            if (mkdir(p, mode) == 0)
            {
                return true;
            }
        }
        int errno = Marshal.GetLastPInvokeError();
        return errno == EEXIST ? false : throw SyscallError.Create("mkdir", path, errno);
    }

    /// <summary>The dev_t of <paramref name="major"/>:<paramref name="minor"/> (glibc's gnu_dev_makedev).</summary>
    public static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);

    /// <summary>mknod(2); <paramref name="mode"/> includes the file type (S_IFCHR …).</summary>
    public static void MakeNode(string path, uint mode, ulong dev)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            if (mknod(p, mode, dev) < 0)
            {
                throw SyscallError.Create("mknod", path, Marshal.GetLastPInvokeError());
            }
        }
    }

    /// <summary>Sets the umask and returns the previous one.</summary>
    public static uint SetUmask(uint mask) => umask(mask);

    /// <summary>access(2); returns 0 or the errno.</summary>
    public static int Access(string path, int mode)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            return access(p, mode) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }
}
