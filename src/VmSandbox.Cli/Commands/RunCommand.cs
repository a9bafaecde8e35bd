using System.Diagnostics;
using VmSandbox.Common;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox run [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--detach] [--keep] ID`:
/// create and start; in the foreground it waits for the container, deletes it (unless --keep)
/// and exits with its status.
/// </summary>
public static class RunCommand
{
    private static readonly string[] s_valueFlags = ["bundle|b", "pid-file", "console-socket", "preserve-fds"];
    private static readonly string[] s_boolFlags = ["detach|d", "keep", "no-pivot", "no-new-keyring", "no-subreaper"];

    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "run", s_valueFlags, s_boolFlags);
        string id = LifecycleContext.SingleId(args.Positional, "run");
        using Process monitor = CreateCommand.Create(ctx, id, args);
        try
        {
            StartCommand.Start(ctx, id);
        }
        catch
        {
            DeleteCommand.Delete(ctx, id, force: true);
            throw;
        }
        if (args.Flag("detach"))
        {
            return ExitCodes.Success;
        }
        monitor.WaitForExit();
        int code = monitor.ExitCode;
        if (!args.Flag("keep"))
        {
            DeleteCommand.Delete(ctx, id, force: true);
        }
        return code;
    }
}
