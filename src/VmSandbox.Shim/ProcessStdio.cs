using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Containers;
using static VmSandbox.Interop.FileSystemCalls;

namespace VmSandbox.Shim;

/// <summary>
/// A task process's stdio as containerd hands it over: FIFO paths (or <c>file://</c> URIs, a
/// <c>binary://</c> logger for the outputs (<see cref="BinaryLogger"/>), or empty for none) copied to and from the process's side, which is either the pipes of its
/// helper (monitor or exec relay) or the master of its host pty. Opening a FIFO blocks until its
/// other end is open, so every open and copy runs off the RPC threads. The process's output is
/// complete when <see cref="OutputDone"/> finishes; the shim reports the exit after that, as
/// containerd's clients expect every byte before the exit status.
/// </summary>
public sealed class ProcessStdio : IAsyncDisposable
{
    private const int CopyBuffer = 128 * 1024;

    private readonly IRuntimeLog _log;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _stdinClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _outputs = [];
    private readonly List<(SafeFd Handle, int Access)> _handles = [];
    private Task _input = Task.CompletedTask;
    private SafeFd? _console;
    private Stream? _consoleStream;
    private readonly BinaryLogger? _logger;

    /// <param name="containerId">The task's ID and <paramref name="ns"/> its namespace: what a <c>binary://</c> logger is told.</param>
    public ProcessStdio(string stdin, string stdout, string stderr, bool terminal, IRuntimeLog log, string containerId = "", string ns = "")
    {
        Stdin = stdin;
        Stdout = stdout;
        Stderr = stderr;
        Terminal = terminal;
        _log = log;
        if (BinaryLogger.IsBinary(stdin))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"stdio {stdin}: a binary:// logger takes output, not stdin");
        }
        // containerd gives one logger URI for both outputs (ctr run --log-uri); it reads both.
        string? logger = (string[])[stdout, stderr] switch
        {
            [var o, var e] when BinaryLogger.IsBinary(o) && (e == o || e.Length == 0) => o,
            [var o, var e] when BinaryLogger.IsBinary(e) && o.Length == 0 => e,
            [var o, var e] when BinaryLogger.IsBinary(o) || BinaryLogger.IsBinary(e) =>
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"stdio {o} and {e}: one binary:// logger takes both outputs"),
            _ => null,
        };
        if (logger is not null)
        {
            _logger = BinaryLogger.Start(logger, containerId, ns, log);
        }
    }

    public string Stdin { get; }

    public string Stdout { get; }

    public string Stderr { get; }

    public bool Terminal { get; }

    /// <summary>Finishes when every output stream reached its end (or was given up at dispose).</summary>
    public Task OutputDone => Task.WhenAll(_outputs);

    /// <summary>Copies between containerd's paths and a helper's pipes.</summary>
    public void AttachPipes(HelperStdio pipes)
    {
        _input = Task.Run(() => CopyInputAsync(pipes.Input, closeTarget: true));
        _outputs.Add(Task.Run(() => CopyOutputAsync(pipes.Output, Stdout, _logger?.Stdout)));
        _outputs.Add(Task.Run(() => CopyOutputAsync(pipes.Error, Stderr, _logger?.Stderr)));
    }

    /// <summary>Copies between containerd's paths and a host pty's master, which this now owns.</summary>
    public void AttachConsole(SafeFd master)
    {
        _console = master;
        Stream stream = _consoleStream = RawFdStream.OverDuplicate(master.Fd);
        _input = Task.Run(() => CopyInputAsync(stream, closeTarget: false));
        _outputs.Add(Task.Run(() => CopyOutputAsync(stream, Stdout, _logger?.Stdout)));
    }

    /// <summary>The process's terminal takes a new size (the helper forwards it to the guest's).</summary>
    public void Resize(uint width, uint height)
    {
        if (_console is null)
        {
            return; // runc's shim ignores a resize of a process without a terminal too
        }
        Pty.SetSize(_console, new TerminalSize((ushort)height, (ushort)width));
    }

    /// <summary>CloseIO: the process's stdin reaches its end now.</summary>
    public void CloseStdin() => _stdinClosed.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        _stdinClosed.TrySetResult();
        await _closing.CancelAsync();
        ReleaseBlockedOpens();
        try
        {
            await Task.WhenAll([_input, .. _outputs]).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            _log.Warn($"stdio copies did not end within 5 s of the process's end (stdin {Describe(_input)}, output {string.Join(", ", _outputs.Select(Describe))})");
        }
        _consoleStream?.Dispose();
        _console?.Dispose();
        CloseHandles();
        if (_logger is not null)
        {
            await _logger.DisposeAsync();
        }
    }

    private static string Describe(Task t) => t.IsCompleted ? "done" : "open";

    private async Task CopyInputAsync(Stream target, bool closeTarget)
    {
        try
        {
            if (Stdin.Length > 0)
            {
                Stream? source = await OpenAsync(Stdin, O_RDONLY);
                _log.Debug($"stdin {Stdin}: {(source is null ? "released" : "open")}");
                if (source is not null)
                {
                    Task copy = source.CopyToAsync(target, CopyBuffer, _closing.Token);
                    // The source closes when its copy ends, never under a read still blocked in it
                    // (its descriptor number could be reused meanwhile).
                    _ = copy.ContinueWith(_ => source.Dispose(), TaskScheduler.Default);
                    await Task.WhenAny(copy, _stdinClosed.Task);
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            _log.Debug($"stdin {Stdin}: {e.Message}");
        }
        finally
        {
            if (closeTarget)
            {
                await target.DisposeAsync(); // the process reads its end of stdin
            }
            _log.Debug($"stdin {Stdin}: closed");
        }
    }

    /// <param name="logger">The binary logger's pipe for this output, which the logger owns; else <paramref name="path"/> is opened.</param>
    private async Task CopyOutputAsync(Stream source, string path, Stream? logger)
    {
        Stream? target = logger;
        try
        {
            if (target is null && path.Length > 0)
            {
                target = await OpenAsync(path, O_WRONLY);
            }
            byte[] buffer = new byte[CopyBuffer];
            while (true)
            {
                int n;
                try
                {
                    n = await source.ReadAsync(buffer);
                }
                catch (IOException)
                {
                    break; // EIO from a pty master once the last peer closed: its end
                }
                if (n == 0)
                {
                    break;
                }
                if (target is null)
                {
                    continue; // nobody reads it: keep draining, so the process never blocks
                }
                try
                {
                    await target.WriteAsync(buffer.AsMemory(0, n));
                }
                catch (IOException e)
                {
                    _log.Debug($"stdout/err {path}: {e.Message}; discarding the rest");
                    await target.DisposeAsync();
                    target = null;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            _log.Debug($"output {path}: {e.Message}");
        }
        finally
        {
            if (target is not null && target != logger)
            {
                await target.DisposeAsync();
            }
            if (_console is null)
            {
                await source.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Opens a FIFO (blocking until its other end is open, or until dispose releases it) or a
    /// <c>file://</c> log for appending. Null when dispose came first. The blocking open goes
    /// through an O_PATH descriptor taken first, so dispose can still reach the FIFO to release
    /// it after the client unlinked it (ctr removes its FIFOs as soon as it has the exit).
    /// </summary>
    private async Task<Stream?> OpenAsync(string path, int access)
    {
        if (path.StartsWith("file://", StringComparison.Ordinal))
        {
            string file = path["file://".Length..];
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            SafeFd fd = SafeFd.Open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0x1a0); // 0640
            return Wrap(fd);
        }
        SafeFd handle = SafeFd.Open(path, O_PATH | O_CLOEXEC);
        lock (_handles)
        {
            _handles.Add((handle, access));
        }
        string reopen = $"/proc/self/fd/{handle.Fd}";
        SafeFd opened = await Task.Factory.StartNew(() => SafeFd.Open(reopen, access | O_CLOEXEC), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (_closing.IsCancellationRequested)
        {
            opened.Dispose();
            return null;
        }
        return Wrap(opened);
    }

    private static RawFdStream Wrap(SafeFd fd)
    {
        using (fd)
        {
            return RawFdStream.OverDuplicate(fd.Fd);
        }
    }

    /// <summary>Threads still blocked opening a FIFO return once we open its other end ourselves.</summary>
    private void ReleaseBlockedOpens()
    {
        lock (_handles)
        {
            foreach ((SafeFd handle, int access) in _handles)
            {
                try
                {
                    SafeFd.Open($"/proc/self/fd/{handle.Fd}", (access == O_RDONLY ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC).Dispose();
                }
                catch (VmSandboxException)
                {
                    // nobody blocked on it (ENXIO): nothing to release
                }
            }
        }
    }

    private void CloseHandles()
    {
        lock (_handles)
        {
            foreach ((SafeFd handle, _) in _handles)
            {
                handle.Dispose();
            }
            _handles.Clear();
        }
    }
}
