using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Runtime.Containers;

public sealed partial class Container
{
    /// <summary>
    /// `run`: create and start. Detached it returns once started; in the foreground it waits for
    /// the container (forwarding signals, and with a terminal of the caller's own, relaying it),
    /// deletes it unless <paramref name="keep"/>, and returns its exit status. A failed start
    /// deletes what create made.
    /// </summary>
    public static int Run(ContainerRuntime rt, string id, CreateOptions options, bool detach, bool keep)
    {
        using Container container = Create(rt, id, options with { Foreground = !detach });
        if (detach)
        {
            container.StartOrDelete();
            return ExitCodes.Success;
        }
        int code = container.WaitInForegroundAsync(ownTerminal: options.ConsoleSocket is null).GetAwaiter().GetResult();
        if (!keep)
        {
            Delete(rt, id, force: true);
        }
        return code;
    }

    private void StartOrDelete()
    {
        try
        {
            Start();
        }
        catch
        {
            Delete(_rt, Id, force: true);
            throw;
        }
    }

    /// <summary>
    /// As runc in the foreground: signals sent to this process go to the container, and with a
    /// terminal of the caller's own, that terminal is raw while the container runs and its size
    /// follows the caller's (SIGWINCH, as this process is in the terminal's foreground group).
    /// The monitor exits with the container's status.
    /// </summary>
    private async Task<int> WaitInForegroundAsync(bool ownTerminal)
    {
        IHelperProcess monitor = Monitor ?? throw new VmSandboxException(ErrorCode.Internal, "run: the container's monitor is not this process's child");
        AgentConnection conn;
        try
        {
            conn = await AgentConnection.ConnectAsync(Record.VmRunDir(), CancellationToken.None);
        }
        catch
        {
            Delete(_rt, Id, force: true);
            throw;
        }
        await using AgentConnection owned = conn;
        using SafeFd? callerTty = ExecSession.CallerTerminal(Record.Terminal && ownTerminal);
        using IDisposable? raw = callerTty is null ? null : Pty.RawUntilDisposed(callerTty);
        using var signals = new GuestSignalRelay(conn.Agent, Id, "", callerTty, _rt.Log.Debug);
        // The guest's pty exists since create: size it before the process can look at it.
        await signals.ResizeAsync();
        StartOrDelete();
        await monitor.WaitForExitAsync();
        return monitor.ExitCode;
    }
}
