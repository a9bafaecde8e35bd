using System.Text;
using VmSandbox.Interop;
using VmSandbox.Runtime;

namespace VmSandbox.Shim;

/// <summary>
/// The shim's log: the <c>log</c> FIFO containerd makes in the bundle and copies to its own
/// stderr (so it lands in containerd's journal), one logfmt line per message as containerd's own
/// shims write them. Debug lines only with -debug. Losing the reader never blocks the shim.
/// </summary>
public sealed class ShimLog : IRuntimeLog, IDisposable
{
    private const int O_WRONLY = 1;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private readonly object _lock = new();
    private readonly bool _debug;
    private readonly string _id;
    private Stream? _out;

    public ShimLog(string? fifo, string id, bool debug)
    {
        _debug = debug;
        _id = id;
        if (fifo is not null)
        {
            try
            {
                // containerd holds the FIFO open for reading, so a non-blocking open succeeds;
                // without containerd (a test, a stale bundle) there is no log rather than a hang.
                using SafeFd fd = SafeFd.Open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                _out = RawFdStream.OverDuplicate(fd.Fd);
            }
            catch (Common.VmSandboxException)
            {
                _out = null;
            }
        }
    }

    public void Warn(string message) => Write("warning", message);

    public void Info(string message) => Write("info", message);

    public void Error(string message) => Write("error", message);

    public void Debug(string message)
    {
        if (_debug)
        {
            Write("debug", message);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _out?.Dispose();
            _out = null;
        }
    }

    private void Write(string level, string message)
    {
        string line = $"time=\"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffffffZ}\" level={level} msg=\"{Escape(message)}\" runtime=io.containerd.vmsandbox.v2 id={_id}\n";
        lock (_lock)
        {
            try
            {
                _out?.Write(Encoding.UTF8.GetBytes(line));
            }
            catch (IOException)
            {
                _out?.Dispose();
                _out = null; // containerd went away: the rest of the log has no reader
            }
        }
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
