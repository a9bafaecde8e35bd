using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox run [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--detach] [--keep] ID`:
/// <see cref="Container.Run"/> (create and start; in the foreground wait, delete, exit with its status).
/// </summary>
public static class RunCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, "run", CreateFlags.Values, CreateFlags.Bools);
        return Container.Run(rt, args.SingleId("run"), CreateFlags.Options(args), args.Flag("detach"), args.Flag("keep"));
    }
}
