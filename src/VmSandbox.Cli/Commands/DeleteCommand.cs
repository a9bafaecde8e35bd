using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox delete [--force] ID`: removes a stopped container (a created one too, as runc does:
/// it is killed first); a running or paused one only with --force (SIGKILL, then wait for the
/// monitor to take the VM down). Runs the poststop hooks.
/// </summary>
public static class DeleteCommand
{
    private static readonly TimeSpan s_monitorExit = TimeSpan.FromSeconds(30);

    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "delete", [], ["force|f"]);
        string id = LifecycleContext.SingleId(args.Positional, "delete");
        Delete(ctx, id, args.Flag("force"));
        return ExitCodes.Success;
    }

    public static void Delete(LifecycleContext ctx, string id, bool force)
    {
        ContainerIdValidator.Validate(id);
        if (!ctx.Store.Exists(id))
        {
            // runc compat: a directory without state (an aborted create) is removed; --force makes a missing container fine.
            ctx.Store.Remove(id, ctx.Store.RunDirOf(id));
            if (force)
            {
                return;
            }
            throw new VmSandboxException(ErrorCode.NotFound, $"container {id} does not exist");
        }
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        switch (status)
        {
            case ContainerStatus.Running or ContainerStatus.Paused when !force:
                throw new VmSandboxException(ErrorCode.FailedPrecondition,
                    $"cannot delete container {id} that is not stopped: {StateJson.StatusName(status)}");
            case ContainerStatus.Created or ContainerStatus.Running or ContainerStatus.Paused:
                Stop(ctx, record);
                break;
        }
        try
        {
            RuntimeSpec spec = SpecLoader.Parse(File.ReadAllBytes(Path.Combine(ctx.Store.DirOf(id), ContainerStore.ConfigCopy)));
            // A namespace that outlives the container (CNI's, podman's) keeps nothing of ours,
            // even when the monitor died before its own clean-up.
            if (spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network")?.Path is { Length: > 0 } netns)
            {
                Runtime.Network.NetworkMirror.CleanUpNamespace(netns, ctx.Log.Debug);
            }
            HookPhase.Run(ctx, record, spec.Hooks, HookKind.Poststop, ContainerStatus.Stopped);
        }
        catch (Exception e)
        {
            // runc compat: poststop failures are logged, the container is removed anyway.
            ctx.Log.Warn(VmSandboxException.FormatChain(e));
        }
        if (!HostCgroup.Remove(record.HostCgroups ?? [], TimeSpan.FromSeconds(3)))
        {
            ctx.Log.Warn($"delete {id}: host cgroup {string.Join(", ", record.HostCgroups ?? [])} is still busy; left in place");
        }
        ctx.Store.Remove(id, record.RunDir);
    }

    /// <summary>SIGKILLs the container and waits for its monitor; kills the monitor if the guest does not answer.</summary>
    private static void Stop(LifecycleContext ctx, ContainerRecord record)
    {
        try
        {
            KillCommand.Signal(record, 9, all: true);
        }
        catch (Exception e) when (e is VmSandboxException or IOException or System.Net.Sockets.SocketException)
        {
            ctx.Log.Debug($"delete {record.Id}: kill through the agent: {e.Message}");
        }
        if (!LifecycleContext.WaitMonitorExit(record, s_monitorExit))
        {
            ctx.Log.Warn($"delete {record.Id}: sandbox monitor {record.MonitorPid} did not exit, killing it");
            try
            {
                System.Diagnostics.Process.GetProcessById(record.MonitorPid).Kill();
            }
            catch (ArgumentException)
            {
            }
            LifecycleContext.WaitMonitorExit(record, s_monitorExit);
        }
    }
}
