using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Network;

namespace VmSandbox.Runtime.Containers;

public sealed partial class Container
{
    private static readonly TimeSpan s_monitorExit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Removes container <paramref name="id"/>: a stopped one (a created one too, as runc: it is
    /// killed first); a running or paused one only with <paramref name="force"/>. A directory
    /// without state (an aborted create) is removed; with <paramref name="force"/> a missing
    /// container is fine.
    /// </summary>
    public static void Delete(ContainerRuntime rt, string id, bool force)
    {
        ContainerIdValidator.Validate(id);
        PhaseLog.Mark(rt.Config.PhaseLogPath, id, "delete");
        ContainerLock held;
        try
        {
            held = ContainerLock.Acquire(rt.Store.DirOf(id), id, ContainerLock.WaitFor(rt.Config));
        }
        catch (VmSandboxException e) when (e.Code == ErrorCode.NotFound)
        {
            // No directory: nothing of ours but perhaps the run directory of an aborted create.
            rt.Store.Remove(id, rt.Store.RunDirOf(id));
            if (force)
            {
                return;
            }
            throw;
        }
        using (held)
        {
            if (!rt.Store.Exists(id))
            {
                rt.Store.Remove(id, rt.Store.RunDirOf(id));
                if (force)
                {
                    return;
                }
                throw new VmSandboxException(ErrorCode.NotFound, $"container {id} does not exist");
            }
            Load(rt, id).DeleteLocked(force);
        }
        PhaseLog.Mark(rt.Config.PhaseLogPath, id, "deleted");
    }

    /// <summary>
    /// Kills a live container (SIGKILL, then the monitor takes the VM down), runs the poststop
    /// hooks, removes its state. A container that another call deleted meanwhile is gone already.
    /// </summary>
    public void Delete(bool force)
    {
        ContainerLock held;
        try
        {
            held = LockAndReload();
        }
        catch (VmSandboxException e) when (e.Code == ErrorCode.NotFound)
        {
            return;
        }
        using (held)
        {
            DeleteLocked(force);
        }
    }

    private void DeleteLocked(bool force)
    {
        if (ContainerRules.Check(force ? ContainerOperation.ForceDelete : ContainerOperation.Delete, Status, Id) == RuleVerdict.StopFirst)
        {
            StopSandbox();
        }
        else if (Record.MonitorPid > 0 && !WaitMonitorExit(s_monitorExit))
        {
            // Stopped: the container's exit is recorded, and its monitor is taking the VM down.
            // Whatever it still holds (QEMU, virtiofsd, sockets) goes before the state does.
            _rt.Log.Warn($"delete {Id}: sandbox monitor {Record.MonitorPid} did not exit after the container did, killing it");
            _rt.Host.Kill(Record.MonitorPid, Record.MonitorStartTime);
            WaitMonitorExit(s_monitorExit);
        }
        try
        {
            // A namespace that outlives the container (CNI's, podman's) keeps nothing of ours,
            // even when the monitor died before its own clean-up.
            // A pod member's namespace is its pod's, which the sandbox's VM still uses.
            if (Record.SandboxId is null && Spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network")?.Path is { Length: > 0 } netns)
            {
                NetworkMirror.CleanUpNamespace(netns, _rt.Log.Debug);
            }
            HookPhase.Run(_rt.Log, Record, Spec.Hooks, HookKind.Poststop, ContainerStatus.Stopped);
        }
        catch (Exception e)
        {
            // runc compat: poststop failures are logged, the container is removed anyway.
            _rt.Log.Warn(VmSandboxException.FormatChain(e));
        }
        WaitPoolVmExit();
        if (!_rt.Host.Cgroups.Remove(Record.HostCgroups ?? [], TimeSpan.FromSeconds(3)))
        {
            _rt.Log.Warn($"delete {Id}: host cgroup {string.Join(", ", Record.HostCgroups ?? [])} is still busy; left in place");
        }
        _rt.Store.Remove(Id, Record.RunDir);
    }

    /// <summary>SIGKILLs the container and waits for its monitor; kills the monitor if the guest does not answer.</summary>
    private void StopSandbox()
    {
        try
        {
            SignalOrKillVm(SigKill, all: true);
        }
        catch (Exception e) when (e is VmSandboxException or IOException or SocketException)
        {
            _rt.Log.Debug($"delete {Id}: kill through the agent: {e.Message}");
        }
        if (!WaitMonitorExit(s_monitorExit))
        {
            _rt.Log.Warn($"delete {Id}: sandbox monitor {Record.MonitorPid} did not exit, killing it");
            _rt.Host.Kill(Record.MonitorPid, Record.MonitorStartTime);
            WaitMonitorExit(s_monitorExit);
        }
    }

    /// <summary>
    /// A pooled VM (ADR 0018) ends just after the container's monitor: wait for its process, kill
    /// it if it hangs, and remove its directory if it could not.
    /// </summary>
    private void WaitPoolVmExit()
    {
        if (Record.PoolVmPid <= 0)
        {
            return;
        }
        if (!WaitGone(Record.PoolVmPid, Record.PoolVmStartTime, s_monitorExit))
        {
            _rt.Log.Warn($"delete {Id}: pooled vm process {Record.PoolVmPid} did not exit, killing it");
            _rt.Host.Kill(Record.PoolVmPid, Record.PoolVmStartTime);
            WaitGone(Record.PoolVmPid, Record.PoolVmStartTime, s_monitorExit);
        }
        if (Record.SandboxRunDir is { } dir && Record.SandboxId is null && Directory.Exists(dir))
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _rt.Log.Warn($"delete {Id}: remove {dir}: {e.Message}");
            }
        }
    }

    /// <summary>Waits until the monitor is gone (it need not be our child: polled).</summary>
    private bool WaitMonitorExit(TimeSpan timeout) => WaitGone(Record.MonitorPid, Record.MonitorStartTime, timeout);

    private bool WaitGone(int pid, ulong startTime, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (_rt.Host.IsAlive(pid, startTime))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            Thread.Sleep(20);
        }
        return true;
    }
}
