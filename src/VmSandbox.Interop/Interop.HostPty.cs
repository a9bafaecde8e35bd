using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// Unix 98 pseudo-terminals on the host: posix_openpt, grantpt, unlockpt, ptsname_r, opening the
/// peer (slave) side, and TIOCGWINSZ/TIOCSWINSZ. Used for runc's --console-socket, where the
/// master goes to the caller and the monitor keeps the peer.
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

    /// <summary>TIOCGWINSZ on either side of the pair.</summary>
    public static TerminalSize GetSize(SafeFd pty)
    {
        bool added = false;
        pty.DangerousAddRef(ref added);
        try
        {
            winsize ws = default;
            // SAFETY: TIOCGWINSZ writes one struct winsize into the stack local.
            if (LibC.ioctl(pty.Fd, LibC.TIOCGWINSZ, &ws) < 0)
            {
                throw SyscallError.Create("ioctl TIOCGWINSZ", null, LibC.errno);
            }
            return new TerminalSize(ws.ws_row, ws.ws_col);
        }
        finally
        {
            if (added)
            {
                pty.DangerousRelease();
            }
        }
    }

    /// <summary>TIOCSWINSZ: the kernel sends SIGWINCH to the terminal's foreground process group.</summary>
    public static void SetSize(SafeFd pty, TerminalSize size)
    {
        bool added = false;
        pty.DangerousAddRef(ref added);
        try
        {
            winsize ws = default;
            ws.ws_row = size.Rows;
            ws.ws_col = size.Columns;
            // SAFETY: TIOCSWINSZ reads one struct winsize from the stack local.
            if (LibC.ioctl(pty.Fd, LibC.TIOCSWINSZ, &ws) < 0)
            {
                throw SyscallError.Create("ioctl TIOCSWINSZ", null, LibC.errno);
            }
        }
        finally
        {
            if (added)
            {
                pty.DangerousRelease();
            }
        }
    }

    /// <summary>isatty(3): is <paramref name="fd"/> a terminal?</summary>
    public static bool IsTerminal(int fd)
    {
        termios t;
        // SAFETY: &t points to a local termios that tcgetattr fills; fd is only queried.
        return LibC.tcgetattr(fd, &t) == 0;
    }

    /// <summary>
    /// TIOCSCTTY (without stealing): <paramref name="tty"/> becomes the controlling terminal of the
    /// caller, which must lead a session that has none, and the caller's process group its
    /// foreground group, so a TIOCSWINSZ on the master side sends the caller SIGWINCH.
    /// </summary>
    public static void MakeControlling(SafeFd tty)
    {
        bool added = false;
        tty.DangerousAddRef(ref added);
        try
        {
            // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal); no pointers.
            SyscallError.ThrowIfNegative(LibC.ioctl(tty.Fd, LibC.TIOCSCTTY, 0), "ioctl TIOCSCTTY");
        }
        finally
        {
            tty.DangerousRelease();
        }
    }

    /// <summary>
    /// The terminal on <paramref name="fd"/> made raw (<see cref="MakeRaw"/>) until the returned
    /// object is disposed, which puts the saved settings back: `run`/`exec` in the foreground with
    /// the caller's own terminal, as runc does, so that only the guest's terminal echoes and edits.
    /// </summary>
    public static IDisposable RawUntilDisposed(SafeFd fd)
    {
        var saved = new SavedTermios(fd);
        try
        {
            MakeRaw(fd);
        }
        catch
        {
            saved.Dispose();
            throw;
        }
        return saved;
    }

    private sealed class SavedTermios : IDisposable
    {
        private readonly SafeFd _fd;
        private readonly termios _saved;
        private int _disposed;

        public SavedTermios(SafeFd fd)
        {
            _fd = fd;
            termios t;
            // SAFETY: &t points to a local termios that tcgetattr fills.
            SyscallError.ThrowIfNegative(LibC.tcgetattr(fd.Fd, &t), "tcgetattr");
            _saved = t;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                termios t = _saved;
                // SAFETY: &t points to a local copy of the saved termios that tcsetattr reads.
                _ = LibC.tcsetattr(_fd.Fd, (int)LibC.TCSADRAIN, &t);
            }
        }
    }

    /// <summary>
    /// cfmakeraw(3) on <paramref name="pty"/>: no echo, no line editing, no signal characters, no
    /// output processing. A relay pty must be raw: the terminal that cooks the input is the one in the guest.
    /// </summary>
    public static void MakeRaw(SafeFd pty)
    {
        bool added = false;
        pty.DangerousAddRef(ref added);
        try
        {
            termios t;
            // SAFETY: &t points to a local termios that tcgetattr fills and tcsetattr reads.
            SyscallError.ThrowIfNegative(LibC.tcgetattr(pty.Fd, &t), "tcgetattr");
            t.c_iflag &= ~(uint)(LibC.IGNBRK | LibC.BRKINT | LibC.PARMRK | LibC.ISTRIP | LibC.INLCR | LibC.IGNCR | LibC.ICRNL | LibC.IXON);
            t.c_oflag &= ~(uint)LibC.OPOST;
            t.c_lflag &= ~(uint)(LibC.ECHO | LibC.ECHONL | LibC.ICANON | LibC.ISIG | LibC.IEXTEN);
            t.c_cflag &= ~(uint)(LibC.CSIZE | LibC.PARENB);
            t.c_cflag |= (uint)LibC.CS8;
            SyscallError.ThrowIfNegative(LibC.tcsetattr(pty.Fd, (int)LibC.TCSANOW, &t), "tcsetattr");
        }
        finally
        {
            pty.DangerousRelease();
        }
    }
}
