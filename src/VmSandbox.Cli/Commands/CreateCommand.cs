using VmSandbox.Common;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--no-pivot]
/// [--no-new-keyring] [--preserve-fds N] ID`: <see cref="Container.Create"/>.
/// </summary>
public static class CreateCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, "create", CreateFlags.Values, CreateFlags.Bools);
        using Container container = Container.Create(rt, args.SingleId("create"), CreateFlags.Options(args));
        return ExitCodes.Success;
    }
}
