using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// A container init started before its container is asked for (issue 13, ADR 0016): the agent
/// starts one as soon as it runs, at idle priority, in a new pid namespace of its own, exactly as
/// <see cref="ProcessSpawner"/> starts any init, with /dev/null for stdio. It warms up (its
/// runtime's start and the config's decode and parse, which under TCG cost a fresh init
/// ~0.35 s) and waits on its channel. The first container whose init needs nothing at spawn
/// time (no user namespace, no pid namespace to join) takes it: its config comes with the
/// container's stdio as SCM_RIGHTS, and the init returns to normal priority before it sets the
/// container up. Each serves one container; one not taken by the next container is ended (its
/// channel closes, and it exits). The agent starts one at boot and again when its last
/// container is removed (<see cref="ContainerManager.Prespawn"/>).
/// </summary>
public sealed class PrespawnedInit : IDisposable
{
    private readonly object _lock = new();
    private Action<int>? _onExit;
    private int? _status;

    internal PrespawnedInit(InitChannel channel)
    {
        Channel = channel;
    }

    public int Pid { get; private set; }

    /// <summary>The agent's end of the init's socketpair.</summary>
    public InitChannel Channel { get; }

    /// <summary>Starts one; what fails is thrown (the first container then spawns its own).</summary>
    public static PrespawnedInit Start(ProcessSpawner spawner)
    {
        var (agentEnd, initEnd) = UnixSocket.CreatePair();
        var init = new PrespawnedInit(new InitChannel(agentEnd));
        SafeFd[] stdio = [];
        try
        {
            stdio = [.. Enumerable.Range(0, 3).Select(_ => FileSystemCalls.Open("/dev/null", FileSystemCalls.O_RDWR))];
            using (initEnd)
            {
                init.Pid = spawner.Spawn([.. stdio, initEnd], joinPidOf: null, init.Exited, prespawned: true);
            }
            return init;
        }
        catch
        {
            init.Dispose();
            throw;
        }
        finally
        {
            foreach (SafeFd fd in stdio)
            {
                fd.Dispose();
            }
        }
    }

    /// <summary>The reaper's callback: passed on once claimed, kept until then.</summary>
    internal void Exited(int status)
    {
        Action<int>? onExit;
        lock (_lock)
        {
            onExit = _onExit;
            if (onExit is null)
            {
                _status = status;
                return;
            }
        }
        onExit(status);
    }

    /// <summary>Makes it a container's: its exit goes to <paramref name="onExit"/>. False when it has already exited.</summary>
    public bool TryClaim(Action<int> onExit)
    {
        lock (_lock)
        {
            if (_status is not null || _onExit is not null)
            {
                return false;
            }
            _onExit = onExit;
            return true;
        }
    }

    /// <summary>Closes the agent's end: an unclaimed init reads end of file and exits.</summary>
    public void Dispose() => Channel.Dispose();
}
