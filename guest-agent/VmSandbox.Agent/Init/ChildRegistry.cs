using VmSandbox.Interop;

namespace VmSandbox.Agent.Init;

/// <summary>
/// PID 1's one reaper: on SIGCHLD it reaps every exited child with waitpid(-1); the statuses
/// of children registered here (container inits and exec'd processes) go to their callbacks,
/// the rest (orphans reparented to PID 1) are dropped. Spawning happens under the same lock
/// (<see cref="SpawnAndRegister"/>), so a child that dies at once is never reaped unregistered.
/// </summary>
public sealed class ChildRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<int, Action<int>> _watched = [];

    /// <summary>Runs <paramref name="spawn"/> and registers the pid it returns, atomically with respect to reaping.</summary>
    public int SpawnAndRegister(Func<int> spawn, Action<int> onExit)
    {
        lock (_lock)
        {
            int pid = spawn();
            _watched[pid] = onExit;
            return pid;
        }
    }

    /// <summary>Reaps every exited child; called on SIGCHLD and once at start.</summary>
    public void ReapAll()
    {
        var exited = new List<(Action<int> Callback, int Status)>();
        lock (_lock)
        {
            int pid;
            while ((pid = ProcessCalls.ReapAny(out int status)) > 0)
            {
                if (_watched.Remove(pid, out Action<int>? callback))
                {
                    exited.Add((callback, status));
                }
            }
        }
        foreach (var (callback, status) in exited)
        {
            callback(status);
        }
    }

    /// <summary>The shell's exit code for a wait status: the exit code, or 128 + the signal; and the signal (0 on a normal exit).</summary>
    public static (int ExitCode, int Signal) Decode(int status)
    {
        int signal = status & 0x7f;
        return signal == 0 ? ((status >> 8) & 0xff, 0) : (128 + signal, signal);
    }
}
