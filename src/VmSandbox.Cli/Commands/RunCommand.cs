using System.Diagnostics;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox run [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--detach] [--keep] ID`:
/// create and start; in the foreground it waits for the container (forwarding signals, and with
/// `process.terminal` and no console socket, relaying the caller's own terminal), deletes it
/// (unless --keep) and exits with its status.
/// </summary>
public static class RunCommand
{
    private static readonly string[] s_valueFlags = ["bundle|b", "pid-file", "console-socket", "preserve-fds"];
    private static readonly string[] s_boolFlags = ["detach|d", "keep", "no-pivot", "no-new-keyring", "no-subreaper"];

    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "run", s_valueFlags, s_boolFlags);
        string id = LifecycleContext.SingleId(args.Positional, "run");
        bool detach = args.Flag("detach");
        using Process monitor = CreateCommand.Create(ctx, id, args, foreground: !detach);
        if (detach)
        {
            StartOrDelete(ctx, id);
            return ExitCodes.Success;
        }
        int code = WaitInForegroundAsync(ctx, id, monitor, ownTerminal: args.Value("console-socket") is null).GetAwaiter().GetResult();
        if (!args.Flag("keep"))
        {
            DeleteCommand.Delete(ctx, id, force: true);
        }
        return code;
    }

    private static void StartOrDelete(LifecycleContext ctx, string id)
    {
        try
        {
            StartCommand.Start(ctx, id);
        }
        catch
        {
            DeleteCommand.Delete(ctx, id, force: true);
            throw;
        }
    }

    /// <summary>
    /// As runc in the foreground: signals sent to this process go to the container, and with a
    /// terminal of the caller's own, that terminal is raw while the container runs and its size
    /// follows the caller's (SIGWINCH, as this process is in the terminal's foreground group).
    /// </summary>
    private static async Task<int> WaitInForegroundAsync(LifecycleContext ctx, string id, Process monitor, bool ownTerminal)
    {
        ContainerRecord record = ctx.Store.Load(id);
        AgentConnection conn;
        try
        {
            conn = await AgentConnection.ConnectAsync(record.RunDir, CancellationToken.None);
        }
        catch
        {
            DeleteCommand.Delete(ctx, id, force: true);
            throw;
        }
        await using AgentConnection owned = conn;
        using SafeFd? callerTty = ExecSession.CallerTerminal(record.Terminal && ownTerminal);
        using IDisposable? raw = callerTty is null ? null : Pty.RawUntilDisposed(callerTty);
        using var signals = new GuestSignalRelay(conn.Agent, id, "", callerTty, ctx.Log.Debug);
        StartOrDelete(ctx, id);
        await signals.ResizeAsync();
        await monitor.WaitForExitAsync();
        return monitor.ExitCode;
    }
}
