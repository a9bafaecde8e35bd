using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox state ID`: the OCI state JSON, as runc prints it.</summary>
public static class StateCommand
{
    public static int Run(ArgReader reader, LifecycleContext ctx, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "state", [], []);
        (ContainerRecord record, ContainerStatus status) = ctx.Get(LifecycleContext.SingleId(args.Positional, "state"));
        stdout.WriteLine(StateJson.FormatState(ContainerStore.ToState(record, status)));
        return Common.ExitCodes.Success;
    }
}
