using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox kill [--all] ID [SIGNAL]`: signal the container's init (or all its processes); SIGTERM by default.</summary>
public static class KillCommand
{
    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "kill", [], ["all|a"]);
        if (args.Positional.Count is 0 or > 2)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "kill: expected a container id and an optional signal");
        }
        string id = args.Positional[0];
        int signal = args.Positional.Count == 2 ? Signals.Parse(args.Positional[1]) : 15;
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        if (status == ContainerStatus.Stopped && args.Flag("all"))
        {
            return ExitCodes.Success; // runc compat: every process of a stopped container is none
        }
        if (status is ContainerStatus.Stopped or ContainerStatus.Creating)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "container not running");
        }
        Signal(record, signal, args.Flag("all"));
        return ExitCodes.Success;
    }

    public static void Signal(ContainerRecord record, int signal, bool all) =>
        AgentCall.Run(record, async a => await a.SignalProcessAsync(
            new SignalProcessRequest { ContainerId = record.Id, Signal = (uint)signal, All = all }, AgentCall.Options, CancellationToken.None));
}
