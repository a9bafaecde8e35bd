using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox kill [--all] ID [SIGNAL]`: <see cref="Container.Kill"/>; SIGTERM by default.</summary>
public static class KillCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, "kill", [], ["all|a"]);
        if (args.Positional.Count is 0 or > 2)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "kill: expected a container id and an optional signal");
        }
        int signal = args.Positional.Count == 2 ? Signals.Parse(args.Positional[1]) : 15;
        Container.Load(rt, args.Positional[0]).Kill(signal, args.Flag("all"));
        return ExitCodes.Success;
    }
}
