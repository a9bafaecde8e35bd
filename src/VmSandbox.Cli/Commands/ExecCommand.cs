using VmSandbox.Common;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox exec [--process FILE | flags ID CMD…] [--detach --pid-file F] [--console-socket S]
/// [--tty] [--cwd D] [--env K=V]… [--user UID[:GID]] [--additional-gids G]… [--cap C]… ID`:
/// <see cref="Container.Exec"/>; exits with the process's status (detached: once it runs).
/// </summary>
public static class ExecCommand
{
    private static readonly string[] s_valueFlags = ["process|p", "pid-file", "console-socket", "cwd", "env|e", "user|u", "additional-gids|g", "preserve-fds", "process-label", "apparmor", "cap|c"];
    private static readonly string[] s_boolFlags = ["detach|d", "tty|t", "no-new-privs", "ignore-paused", "no-subreaper"];

    public static int Run(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, "exec", s_valueFlags, s_boolFlags);
        if (args.Positional.Count == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "exec: container id cannot be empty");
        }
        return Container.Load(rt, args.Positional[0]).Exec(new ExecRequest
        {
            ProcessFile = args.Value("process"),
            Flags = new ExecFlags([.. args.Positional.Skip(1)])
            {
                Cwd = args.Value("cwd"),
                Env = args.Values("env"),
                Tty = args.Flag("tty"),
                User = args.Value("user"),
                AdditionalGids = args.Values("additional-gids"),
                Caps = args.Values("cap"),
                NoNewPrivileges = args.Flag("no-new-privs"),
            },
            Detach = args.Flag("detach"),
            ConsoleSocket = args.Value("console-socket"),
            PidFile = args.Value("pid-file"),
            IgnorePaused = args.Flag("ignore-paused"),
        });
    }
}
