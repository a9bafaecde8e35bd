using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox pause ID` / `vmsandbox resume ID`: freeze or thaw the container's guest cgroup.</summary>
public static class PauseCommand
{
    public static int Run(ArgReader reader, LifecycleContext ctx, bool pause)
    {
        string verb = pause ? "pause" : "resume";
        VerbArgs args = VerbArgs.Parse(reader, verb, [], []);
        (ContainerRecord record, ContainerStatus status) = ctx.Get(LifecycleContext.SingleId(args.Positional, verb));
        if (pause && status != ContainerStatus.Running)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "container not running");
        }
        if (!pause && status != ContainerStatus.Paused)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "container not paused");
        }
        if (pause)
        {
            AgentCall.Run(record, async a => await a.PauseContainerAsync(new PauseContainerRequest { ContainerId = record.Id }, AgentCall.Options, CancellationToken.None));
        }
        else
        {
            AgentCall.Run(record, async a => await a.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = record.Id }, AgentCall.Options, CancellationToken.None));
        }
        ctx.Store.Save(record with { Paused = pause });
        return ExitCodes.Success;
    }
}
