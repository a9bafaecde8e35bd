using System.Buffers.Binary;
using VmSandbox.Agent.Protocol;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// The stdio of one container process: the vsock streams to the host (connected by the guest,
/// token first) and the pipes or pty master between them and the process, copied by one
/// thread per direction. stdout/stderr streams close at the process side's EOF; stdin closes
/// on the host's EOF or <see cref="CloseStdin"/>.
/// </summary>
public sealed class StdioRelay : IDisposable
{
    /// <summary>
    /// The process's stdout/stderr pipe: 1 MiB (Linux's pipe-max-size) rather than 64 KiB, so a
    /// process writing in small chunks (busybox and glibc stdio: 4 KiB) fills it 16 times less
    /// often, and the relay wakes and switches with it 16 times less often (under TCG every
    /// switch is emulated). The pages are only allocated while data sits in the pipe.
    /// </summary>
    private const int OutputPipeSize = 1024 * 1024;

    /// <summary>
    /// Output copies read up to this much per read(2) and hand it to the vsock socket in one
    /// write (the kernel cuts it into packets of at most 64 KiB): a quarter of the pipe, so a
    /// full pipe drains in few syscalls. Stdin's copies stay small (the host's writes are).
    /// </summary>
    private const int OutputBufferSize = 256 * 1024;

    private const int InputBufferSize = 64 * 1024;

    private readonly List<Task> _outputs = [];
    private readonly object _lock = new();
    private RawFdStream? _stdinSource;
    private RawFdStream? _stdinSink;
    private SafeFd? _master;
    private bool _stdinClosed;
    private long _stdinPassed;
    private long _closeAfter = -1;

    /// <summary>The process's fds 0-2 (to pass to spawn and close after it).</summary>
    public SafeFd[] ChildFds { get; } = new SafeFd[3];

    /// <summary>The pty master once the init sent it (terminal processes).</summary>
    public SafeFd? Master => _master;

    /// <summary>Completes when every output stream reached EOF.</summary>
    public Task OutputDone => Task.WhenAll(_outputs);

    /// <summary>Connects the streams; without a terminal, makes the pipes. Absent streams are /dev/null.</summary>
    public static StdioRelay Open(Stdio? stdio, bool terminal)
    {
        var relay = new StdioRelay();
        try
        {
            SafeFd Null() => FileSystemCalls.Open("/dev/null", FileSystemCalls.O_RDWR);
            RawFdStream? stdin = Connect(stdio?.Stdin);
            RawFdStream? stdout = Connect(stdio?.Stdout);
            RawFdStream? stderr = terminal ? null : Connect(stdio?.Stderr);
            if (terminal)
            {
                // The init opens the pty and makes its slave the stdio; until then /dev/null.
                relay.ChildFds[0] = Null();
                relay.ChildFds[1] = Null();
                relay.ChildFds[2] = Null();
                relay._stdinSource = stdin;
                relay._pendingStdout = stdout;
                return relay;
            }
            if (stdin is null)
            {
                relay.ChildFds[0] = Null();
            }
            else
            {
                var (read, write) = ProcessCalls.CreatePipe();
                relay.ChildFds[0] = read;
                relay._stdinSource = stdin;
                relay._stdinSink = ToStream(write);
                relay.StartInput();
            }
            relay.ChildFds[1] = relay.Output(stdout, Null);
            relay.ChildFds[2] = relay.Output(stderr, Null);
            return relay;
        }
        catch
        {
            relay.Dispose();
            throw;
        }
    }

    private RawFdStream? _pendingStdout;

    /// <summary>Terminal: relays the pty master the init sent, both ways.</summary>
    public void AttachMaster(SafeFd master)
    {
        _master = master;
        if (_pendingStdout is { } stdout)
        {
            RawFdStream source = RawFdStream.OverDuplicate(master.Fd);
            _outputs.Add(Copy(source, stdout, "stdout", OutputBufferSize));
            _pendingStdout = null;
        }
        if (_stdinSource is not null)
        {
            _stdinSink = RawFdStream.OverDuplicate(master.Fd);
            StartInput();
        }
    }

    /// <summary>
    /// CloseStdin from the host, which had written <paramref name="hostBytes"/> to the stdin
    /// stream by then. Those bytes may still be on their way (another vsock connection, no
    /// ordering with the API call): stdin closes once the input thread has passed that many to
    /// the process, or now if it already has (or there is no stdin stream).
    /// </summary>
    public void CloseStdinAfter(ulong hostBytes)
    {
        lock (_lock)
        {
            _closeAfter = (long)Math.Min(hostBytes, long.MaxValue);
            if (_stdinSource is not null && _stdinSink is not null && Interlocked.Read(ref _stdinPassed) < _closeAfter)
            {
                return; // the input thread closes when it gets there
            }
        }
        CloseStdin();
    }

    /// <summary>Input thread, after each write: the host asked to close once this much had passed.</summary>
    private void Passed(int n)
    {
        long passed = Interlocked.Add(ref _stdinPassed, n);
        bool close;
        lock (_lock)
        {
            close = _closeAfter >= 0 && passed >= _closeAfter;
        }
        if (close)
        {
            CloseStdin();
        }
    }

    /// <summary>Closes the process's stdin (a terminal gets an EOF character instead: its master stays open for output).</summary>
    public void CloseStdin()
    {
        lock (_lock)
        {
            if (_stdinClosed)
            {
                return;
            }
            _stdinClosed = true;
            if (_master is not null)
            {
                try
                {
                    _stdinSink?.Write([4]);
                }
                catch (IOException)
                {
                }
            }
            else
            {
                _stdinSink?.Dispose();
            }
            _stdinSource?.Dispose();
        }
    }

    /// <summary>The parent's copies of the child's fds are no longer needed once it runs.</summary>
    public void CloseChildFds()
    {
        foreach (SafeFd? fd in ChildFds)
        {
            fd?.Dispose();
        }
    }

    private SafeFd Output(RawFdStream? stream, Func<SafeFd> devNull)
    {
        if (stream is null)
        {
            return devNull();
        }
        var (read, write) = ProcessCalls.CreatePipe();
        _ = Pipe.TrySetSize(read, OutputPipeSize); // a refusal leaves the default: slower, not wrong
        _outputs.Add(Copy(ToStream(read), stream, "output", OutputBufferSize));
        return write;
    }

    private void StartInput()
    {
        RawFdStream source = _stdinSource!;
        RawFdStream sink = _stdinSink!;
        _ = Copy(source, sink, "stdin", InputBufferSize, closeSink: _master is null, onEnd: CloseStdin, onWritten: Passed);
    }

    private static Task Copy(RawFdStream source, RawFdStream sink, string name, int bufferSize, bool closeSink = true, Action? onEnd = null, Action<int>? onWritten = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            // Woken by every write the process makes, a normal thread would preempt it each time
            // and copy one small chunk per wake-up (a context switch per chunk: under TCG, costlier
            // than the copy). A batch thread lets the process run on until it blocks or its slice
            // ends, so the relay reads what piled up; the CPU stays shared fairly.
            _ = Scheduling.TrySetCallingThreadBatch();
            byte[] buffer = new byte[bufferSize];
            try
            {
                while (true)
                {
                    int n = source.Read(buffer);
                    if (n <= 0)
                    {
                        break;
                    }
                    sink.Write(buffer.AsSpan(0, n));
                    onWritten?.Invoke(n);
                }
            }
            catch (IOException)
            {
                // EIO on a pty master once the slave is gone, EPIPE when the reader left: the end.
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                source.Dispose();
                if (closeSink)
                {
                    sink.Dispose();
                }
                onEnd?.Invoke();
                done.SetResult();
            }
        }, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    private static RawFdStream? Connect(StdioStream? stream)
    {
        if (stream is null || stream.Port == 0)
        {
            return null;
        }
        var socket = new RawFdStream(Vsock.Connect(Vsock.VMADDR_CID_HOST, stream.Port));
        byte[] token = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(token, stream.Token);
        socket.Write(token);
        return socket;
    }

    private static RawFdStream ToStream(SafeFd fd)
    {
        int n = fd.Fd;
        fd.SetHandleAsInvalid();
        return new RawFdStream(new RawFdStream.Handle(n));
    }

    public void Dispose()
    {
        CloseChildFds();
        CloseStdin();
        _pendingStdout?.Dispose();
        _master?.Dispose();
    }
}
