using VmSandbox.Common;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox start ID`: <see cref="Container.Start"/>.</summary>
public static class StartCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, "start", [], []);
        Container.Load(rt, args.SingleId("start")).Start();
        return ExitCodes.Success;
    }
}
