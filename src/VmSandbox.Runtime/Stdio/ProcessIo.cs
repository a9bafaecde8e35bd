using VmSandbox.Interop;

namespace VmSandbox.Runtime.Stdio;

/// <summary>
/// Relays one container process's stdio between host descriptors (the caller's pipes, or a host
/// pty) and the process's vsock streams: host stdin → guest, guest stdout/stderr → host. Host
/// stdin EOF becomes a CloseStdin call (hybrid vsock has no half-close). With a terminal only
/// stdin and stdout flow (the guest pty merges stderr).
/// </summary>
public sealed class ProcessIo : IDisposable
{
    /// <summary>How long the relays may drain after the process exited (a daemonised child can hold the pipe).</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(60);

    private readonly StdioListener? _stdin;
    private readonly StdioListener _stdout;
    private readonly StdioListener? _stderr;
    private readonly int _inFd;
    private readonly int _outFd;
    private readonly int _errFd;
    private Task _outputs = Task.CompletedTask;

    /// <summary>
    /// Set by the helpers whose stdio exist only for the container (the monitor, the exec
    /// relay): once the guest closed stdout (stderr), the host descriptor is closed too (made
    /// /dev/null), so the caller sees EOF when the process closes its output, as with runc,
    /// where only the container's processes hold it, not when the sandbox ends.
    /// </summary>
    public bool ReleaseHostOutputsAtEof { get; init; }

    /// <summary>
    /// A process's stdio as the runtime's helpers relay it: a host pty (<paramref name="tty"/>)
    /// for all three, else this process's own descriptors 0-2, which it lets go at their EOF when
    /// <paramref name="releaseAtEof"/> (they are the container's alone).
    /// </summary>
    public static ProcessIo ForHelper(string udsPath, Interop.SafeFd? tty, bool terminal, bool releaseAtEof) => tty is not null
        ? new ProcessIo(udsPath, terminal: true, tty.Fd, tty.Fd, tty.Fd)
        : new ProcessIo(udsPath, terminal, 0, 1, 2) { ReleaseHostOutputsAtEof = releaseAtEof };

    /// <param name="udsPath">The sandbox's hybrid vsock socket.</param>
    /// <param name="inFd">Host descriptor to read stdin from, -1 for none.</param>
    /// <param name="outFd">Host descriptor for stdout (the pty with a terminal).</param>
    /// <param name="errFd">Host descriptor for stderr, ignored with a terminal.</param>
    public ProcessIo(string udsPath, bool terminal, int inFd, int outFd, int errFd)
    {
        _inFd = inFd;
        _outFd = outFd;
        _errFd = errFd;
        _stdin = inFd >= 0 ? StdioListener.Create(udsPath) : null;
        _stdout = StdioListener.Create(udsPath);
        _stderr = terminal ? null : StdioListener.Create(udsPath);
    }

    /// <summary>The stream descriptions for the agent's Create/Exec request.</summary>
    public Agent.Protocol.Stdio Describe()
    {
        var stdio = new Agent.Protocol.Stdio { Stdout = _stdout.Describe() };
        if (_stdin is not null)
        {
            stdio.Stdin = _stdin.Describe();
        }
        if (_stderr is not null)
        {
            stdio.Stderr = _stderr.Describe();
        }
        return stdio;
    }

    /// <summary>
    /// Accepts the guest's connections (call after the agent accepted the request) and starts the
    /// relays. <paramref name="closeStdin"/> runs once host stdin reaches EOF, with the number of
    /// bytes relayed (the agent closes the process's stdin after that many).
    /// </summary>
    public async Task StartAsync(Func<ulong, Task> closeStdin, CancellationToken ct)
    {
        Stream outStream = await _stdout.AcceptAsync(s_connectTimeout, ct);
        Stream? errStream = _stderr is null ? null : await _stderr.AcceptAsync(s_connectTimeout, ct);
        Stream? inStream = _stdin is null ? null : await _stdin.AcceptAsync(s_connectTimeout, ct);
        Task outTask = CopyToFdAsync(outStream, _outFd, ReleaseHostOutputsAtEof);
        Task errTask = errStream is null ? Task.CompletedTask : CopyToFdAsync(errStream, _errFd, ReleaseHostOutputsAtEof && _errFd != _outFd);
        _outputs = Task.WhenAll(outTask, errTask);
        if (inStream is not null)
        {
            _ = Task.Run(() => CopyFromFdAsync(_inFd, inStream, closeStdin), CancellationToken.None);
        }
    }

    /// <summary>Waits (bounded) until the guest closed stdout and stderr.</summary>
    public async Task DrainAsync()
    {
        await Task.WhenAny(_outputs, Task.Delay(DrainTimeout));
    }

    /// <param name="release">Make <paramref name="fd"/> /dev/null at the end (<see cref="ReleaseHostOutputsAtEof"/>).</param>
    private static async Task CopyToFdAsync(Stream from, int fd, bool release)
    {
        await using (from)
        {
            try
            {
                using var to = RawFdStream.OverDuplicate(fd);
                byte[] buf = new byte[64 * 1024];
                int n;
                while ((n = await from.ReadAsync(buf)) > 0)
                {
                    await to.WriteAsync(buf.AsMemory(0, n));
                }
            }
            catch (IOException)
            {
                // The reader went away (EPIPE) or the guest reset the stream: nothing more to relay.
            }
            finally
            {
                if (release)
                {
                    using SafeFd devNull = SafeFd.Open("/dev/null", FileSystemCalls.O_RDWR | FileSystemCalls.O_CLOEXEC);
                    ProcessCalls.Dup2(devNull.Fd, fd);
                }
            }
        }
    }

    private static async Task CopyFromFdAsync(int fd, Stream to, Func<ulong, Task> closeStdin)
    {
        await using var owned = to;
        try
        {
            using var from = RawFdStream.OverDuplicate(fd);
            byte[] buf = new byte[64 * 1024];
            int n;
            ulong relayed = 0;
            while ((n = await from.ReadAsync(buf)) > 0)
            {
                await to.WriteAsync(buf.AsMemory(0, n));
                relayed += (ulong)n;
            }
            await to.FlushAsync();
            await closeStdin(relayed);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or Common.VmSandboxException)
        {
            // The process is gone, or so is the guest.
        }
    }

    public void Dispose()
    {
        _stdin?.Dispose();
        _stdout.Dispose();
        _stderr?.Dispose();
    }
}
