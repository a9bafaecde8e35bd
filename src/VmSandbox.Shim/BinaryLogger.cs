using System.Net;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime;

namespace VmSandbox.Shim;

/// <summary>
/// containerd's pluggable logging (runtime/v2 README, "Logging"): a task's stdout and stderr
/// given as <c>binary:///path/to/logger?key=value</c> name a program the shim starts before the
/// process, as containerd-shim-runc-v2 does (pkg/process NewBinaryIO in 1.6): fd 3 is the read end
/// of the process's stdout, fd 4 of its stderr, fd 5 a pipe the logger writes a byte to or closes
/// once it is ready; stdin, stdout and stderr are /dev/null; the environment is CONTAINER_ID and
/// CONTAINER_NAMESPACE alone; each query pair becomes two arguments, key then value. The shim
/// waits for ready (bounded here: <see cref="ReadyTimeout"/>, where containerd waits for ever),
/// and at the end closes the pipes, sends SIGTERM and, after <see cref="StopTimeout"/>, SIGKILL.
/// </summary>
public sealed class BinaryLogger : IAsyncDisposable
{
    public const string Scheme = "binary://";

    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>containerd's binaryIOProcTermTimeout.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(12);

    private const int SIGTERM = 15;
    private const int SIGKILL = 9;

    private readonly SafeFd _pidfd;
    private readonly string _path;
    private readonly IRuntimeLog _log;
    private int _disposed;

    private BinaryLogger(SafeFd pidfd, string path, Stream stdout, Stream stderr, IRuntimeLog log)
    {
        _pidfd = pidfd;
        _path = path;
        Stdout = stdout;
        Stderr = stderr;
        _log = log;
    }

    /// <summary>Where the process's stdout goes: the logger reads it on its fd 3.</summary>
    public Stream Stdout { get; }

    /// <summary>Where the process's stderr goes: the logger reads it on its fd 4.</summary>
    public Stream Stderr { get; }

    public static bool IsBinary(string uri) => uri.StartsWith(Scheme, StringComparison.Ordinal);

    /// <summary>The logger's path and arguments from its URI (the query's pairs in their order).</summary>
    public static (string Path, List<string> Args) Parse(string uri)
    {
        if (!IsBinary(uri) || !Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed) || parsed.Host.Length > 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"stdio {uri}: not a binary:///PATH logger");
        }
        string path = WebUtility.UrlDecode(parsed.AbsolutePath);
        if (!Path.IsPathRooted(path) || path.Length < 2)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"stdio {uri}: the logger's path must be absolute");
        }
        var args = new List<string>();
        foreach (string pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            args.Add(WebUtility.UrlDecode(eq < 0 ? pair : pair[..eq]));
            args.Add(eq < 0 ? "" : WebUtility.UrlDecode(pair[(eq + 1)..]));
        }
        return (path, args);
    }

    /// <summary>Starts the logger and waits until it says it is ready.</summary>
    public static BinaryLogger Start(string uri, string containerId, string ns, IRuntimeLog log)
    {
        (string path, List<string> args) = Parse(uri);
        if (!File.Exists(path))
        {
            throw new VmSandboxException(ErrorCode.NotFound, $"start binary logger {path}: no such file");
        }
        (SafeFd outRead, SafeFd outWrite) = Pipe.Create();
        (SafeFd errRead, SafeFd errWrite) = Pipe.Create();
        (SafeFd readyRead, SafeFd readyWrite) = Pipe.Create();
        SafeFd? pidfd = null;
        try
        {
            int pid;
            using (SafeFd devNull = SafeFd.Open("/dev/null", 2 | 0x80000)) // O_RDWR | O_CLOEXEC
            {
                pid = Spawn.Start(path, [path, .. args], [$"CONTAINER_ID={containerId}", $"CONTAINER_NAMESPACE={ns}"],
                    [devNull, devNull, devNull, outRead, errRead, readyWrite], SpawnFlags.NewProcessGroup | SpawnFlags.CloseOtherFds);
            }
            pidfd = PidFd.Open(pid);
            // Only the logger holds these now: its exit (or close of fd 5) ends the wait below.
            outRead.Dispose();
            errRead.Dispose();
            readyWrite.Dispose();
            using (Stream ready = RawFdStream.OverDuplicate(readyRead.Fd))
            {
                Task<int> read = Task.Run(() => ready.ReadByte());
                if (!read.Wait(ReadyTimeout))
                {
                    PidFd.SendSignal(pidfd, SIGKILL);
                    _ = PidFd.Wait(pidfd, block: true);
                    throw new VmSandboxException(ErrorCode.Timeout, $"binary logger {path}: not ready within {ReadyTimeout.TotalSeconds:0} s");
                }
            }
            log.Debug($"binary logger {path} (pid {pid}) ready for {ns}/{containerId}");
            var logger = new BinaryLogger(pidfd, path, RawFdStream.OverDuplicate(outWrite.Fd), RawFdStream.OverDuplicate(errWrite.Fd), log);
            pidfd = null;
            return logger;
        }
        finally
        {
            pidfd?.Dispose();
            foreach (SafeFd fd in (SafeFd[])[outRead, outWrite, errRead, errWrite, readyRead, readyWrite])
            {
                fd.Dispose();
            }
        }
    }

    /// <summary>Closes the logger's input, then ends it: SIGTERM, and SIGKILL if it outstays <see cref="StopTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await Stdout.DisposeAsync();
        await Stderr.DisposeAsync();
        try
        {
            PidFd.SendSignal(_pidfd, SIGTERM);
            DateTime deadline = DateTime.UtcNow + StopTimeout;
            while (PidFd.Wait(_pidfd, block: false) is null)
            {
                if (DateTime.UtcNow > deadline)
                {
                    _log.Warn($"binary logger {_path}: still running {StopTimeout.TotalSeconds:0} s after SIGTERM; killing it");
                    PidFd.SendSignal(_pidfd, SIGKILL);
                    _ = PidFd.Wait(_pidfd, block: true);
                    break;
                }
                await Task.Delay(50);
            }
        }
        catch (VmSandboxException e)
        {
            _log.Debug($"binary logger {_path}: {e.Message}");
        }
        finally
        {
            _pidfd.Dispose();
        }
    }
}
