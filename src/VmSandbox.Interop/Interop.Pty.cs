using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>
/// Terminals, whoever allocated them: open a master at a given ptmx (the container's devpts in
/// the guest), make a terminal the controlling one, get/set the window size, make it raw (for a
/// while). Shared by the guest agent and host code; <see cref="HostPty"/> allocates host ptys.
/// </summary>
public static unsafe partial class Pty
{
    // include/uapi/asm-generic/ioctls.h
    public const uint TIOCSCTTY = 0x540E;
    public const uint TIOCSPTLCK = 0x40045431;
    public const uint TIOCGPTN = 0x80045430;

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
