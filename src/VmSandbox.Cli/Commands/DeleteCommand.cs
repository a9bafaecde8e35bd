using VmSandbox.Common;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox delete [--force] ID`: <see cref="Container.Delete(ContainerRuntime, string, bool)"/>.</summary>
public static class DeleteCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, "delete", [], ["force|f"]);
        Container.Delete(rt, args.SingleId("delete"), args.Flag("force"));
        return ExitCodes.Success;
    }
}
