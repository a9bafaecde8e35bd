using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox state ID`: the OCI state JSON, as runc prints it.</summary>
public static class StateCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "state", [], []);
        stdout.WriteLine(StateJson.FormatState(Container.Load(rt, args.SingleId("state")).State()));
        return ExitCodes.Success;
    }
}
