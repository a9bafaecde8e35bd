using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox start ID`: lets the created container's process exec its entrypoint, then runs the poststart hooks.</summary>
public static class StartCommand
{
    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "start", [], []);
        Start(ctx, LifecycleContext.SingleId(args.Positional, "start"));
        return ExitCodes.Success;
    }

    public static void Start(LifecycleContext ctx, string id)
    {
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        switch (status)
        {
            case ContainerStatus.Created:
                break;
            case ContainerStatus.Stopped:
                throw new VmSandboxException(ErrorCode.FailedPrecondition, "cannot start a container that has stopped");
            case ContainerStatus.Running or ContainerStatus.Paused:
                throw new VmSandboxException(ErrorCode.FailedPrecondition, "cannot start an already running container");
            default:
                throw new VmSandboxException(ErrorCode.FailedPrecondition, $"cannot start a container in the {StateJson.StatusName(status)} state");
        }
        // Interfaces wired into the namespace after create (Docker's prestart hook, Docker 28's
        // late attach) get their NIC now, before the process can see a half-configured network.
        MonitorControl.Request(record.RunDir, MonitorControl.SyncNetwork, TimeSpan.FromSeconds(60));
        AgentCall.Run(record, async a => await a.StartContainerAsync(new StartContainerRequest { ContainerId = id }, AgentCall.Options, CancellationToken.None));
        record = record with { Started = true };
        ctx.Store.Save(record);
        ctx.Log.Debug($"start {id}: the container process runs its entrypoint");
        RuntimeSpec spec = SpecLoader.Parse(File.ReadAllBytes(Path.Combine(ctx.Store.DirOf(id), ContainerStore.ConfigCopy)));
        HookPhase.Run(ctx, record, spec.Hooks, HookKind.Poststart, ContainerStatus.Running);
    }
}
