using VmSandbox.Interop;

namespace VmSandbox.Agent.Vm;

/// <summary>
/// PID 1's one reaper: a dedicated thread blocks in waitpid(-1) while PID 1 has children; the
/// statuses of children registered here (container inits and exec'd processes) go to their
/// callbacks, the rest (orphans reparented to PID 1) are dropped. Registration happens under the
/// lock the reaper takes before it looks a pid up (<see cref="SpawnAndRegister"/>), so a child
/// that dies at once is never lost. It must be the only waitpid caller in the process: see
/// <see cref="Start"/> for the .NET runtime's own reaping, which it turns off.
/// </summary>
public sealed class ChildRegistry : IDisposable
{
    private const int SIGCHLD = 17;
    private readonly object _lock = new();
    private readonly Dictionary<int, Action<int>> _watched = [];
    private readonly AutoResetEvent _hasChildren = new(initialState: true);
    private Thread? _reaper;

    /// <summary>
    /// Starts the blocking reaper thread (once). First sets SIGCHLD back to SIG_DFL: the .NET
    /// runtime's signal thread answers SIGCHLD in process 1 by reaping every child itself
    /// (waitpid(-1, WNOHANG), status thrown away, when System.Diagnostics.Process is not in use),
    /// which raced this thread and lost container exit statuses. Call it after the last
    /// PosixSignalRegistration, since the runtime installs its handlers with the first.
    /// </summary>
    public void Start()
    {
        if (_reaper is not null)
        {
            return;
        }
        ProcessCalls.RestoreDefaultDisposition(SIGCHLD);
        _reaper = new Thread(ReapLoop, maxStackSize: 256 * 1024) { IsBackground = true, Name = "reaper" };
        _reaper.Start();
    }

    private void ReapLoop()
    {
        while (true)
        {
            int pid = ProcessCalls.WaitChild(-1, 0, out int status);
            if (pid <= 0)
            {
                _ = _hasChildren.WaitOne(TimeSpan.FromSeconds(1));
                continue;
            }
            Deliver(pid, status);
        }
    }

    private void Deliver(int pid, int status)
    {
        Action<int>? callback;
        lock (_lock)
        {
            _ = _watched.Remove(pid, out callback);
        }
        callback?.Invoke(status);
    }

    /// <summary>Runs <paramref name="spawn"/> and registers the pid it returns, atomically with respect to reaping.</summary>
    public int SpawnAndRegister(Func<int> spawn, Action<int> onExit)
    {
        lock (_lock)
        {
            int pid = spawn();
            _watched[pid] = onExit;
            _ = _hasChildren.Set();
            return pid;
        }
    }

    /// <summary>The shell's exit code for a wait status: the exit code, or 128 + the signal; and the signal (0 on a normal exit).</summary>
    public static (int ExitCode, int Signal) Decode(int status)
    {
        int signal = status & 0x7f;
        return signal == 0 ? ((status >> 8) & 0xff, 0) : (128 + signal, signal);
    }

    /// <summary>PID 1 never ends; this exists for tests and analyzers.</summary>
    public void Dispose() => _hasChildren.Dispose();
}
