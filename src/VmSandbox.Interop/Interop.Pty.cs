using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// Pseudo-terminals: open a master (/dev/ptmx), unlock it and find its slave, make a terminal
/// the controlling one, and get/set the window size. Shared by the guest agent and host code.
/// </summary>
public static unsafe partial class Pty
{
    // include/uapi/asm-generic/ioctls.h
    public const uint TIOCSCTTY = 0x540E;
    public const uint TIOCGWINSZ = 0x5413;
    public const uint TIOCSWINSZ = 0x5414;
    public const uint TIOCSPTLCK = 0x40045431;
    public const uint TIOCGPTN = 0x80045430;

    /// <summary>struct winsize (8 bytes).</summary>
    // C name kept on purpose (STYLE.md).
#pragma warning disable CS8981
    [StructLayout(LayoutKind.Sequential)]
    public struct winsize
    {
        public ushort ws_row;
        public ushort ws_col;
        public ushort ws_xpixel;
        public ushort ws_ypixel;
    }
#pragma warning restore CS8981

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_int(int fd, nuint request, nint arg);

    /// <summary>
    /// Opens a new master at <paramref name="ptmx"/> (e.g. /dev/ptmx or /dev/pts/ptmx), unlocks it
    /// and returns it with the path of its slave under <paramref name="ptsDir"/>.
    /// </summary>
    public static (SafeFd Master, string SlavePath) OpenMaster(string ptmx = "/dev/ptmx", string ptsDir = "/dev/pts")
    {
        SafeFd master = FileSystemCalls.Open(ptmx, FileSystemCalls.O_RDWR | FileSystemCalls.O_NOCTTY);
        try
        {
            int unlock = 0;
            // SAFETY: &unlock is a local int the ioctl reads.
            if (ioctl(master.Fd, TIOCSPTLCK, &unlock) < 0)
            {
                throw SyscallError.Create("ioctl(TIOCSPTLCK)", ptmx, Marshal.GetLastPInvokeError());
            }
            uint n = 0;
            // SAFETY: &n is a local unsigned int the ioctl writes.
            if (ioctl(master.Fd, TIOCGPTN, &n) < 0)
            {
                throw SyscallError.Create("ioctl(TIOCGPTN)", ptmx, Marshal.GetLastPInvokeError());
            }
            return (master, $"{ptsDir}/{n}");
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    /// <summary>Makes <paramref name="tty"/> the controlling terminal of the caller (a session leader).</summary>
    public static void SetControllingTerminal(SafeFd tty)
    {
        if (ioctl_int(tty.Fd, TIOCSCTTY, 0) < 0)
        {
            throw SyscallError.Create("ioctl(TIOCSCTTY)", null, Marshal.GetLastPInvokeError());
        }
    }

    public static void SetWindowSize(SafeHandle tty, ushort rows, ushort columns)
    {
        var ws = new winsize { ws_row = rows, ws_col = columns };
        bool added = false;
        tty.DangerousAddRef(ref added);
        try
        {
            // SAFETY: &ws is a local struct the ioctl reads; the fd is kept alive by AddRef.
            if (ioctl((int)tty.DangerousGetHandle(), TIOCSWINSZ, &ws) < 0)
            {
                throw SyscallError.Create("ioctl(TIOCSWINSZ)", null, Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            if (added)
            {
                tty.DangerousRelease();
            }
        }
    }

    public static (ushort Rows, ushort Columns) GetWindowSize(SafeHandle tty)
    {
        var ws = default(winsize);
        bool added = false;
        tty.DangerousAddRef(ref added);
        try
        {
            // SAFETY: &ws is a local struct the ioctl writes; the fd is kept alive by AddRef.
            if (ioctl((int)tty.DangerousGetHandle(), TIOCGWINSZ, &ws) < 0)
            {
                throw SyscallError.Create("ioctl(TIOCGWINSZ)", null, Marshal.GetLastPInvokeError());
            }
            return (ws.ws_row, ws.ws_col);
        }
        finally
        {
            if (added)
            {
                tty.DangerousRelease();
            }
        }
    }
}
