using System.Net.Sockets;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Runtime.Stdio;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// A pod member's relay, the runtime binary under a hidden verb that create starts instead of a
/// sandbox monitor when the container belongs to a pod whose sandbox container runs here:
/// <c>__member --report SOCK [--tty P] ID</c> (ADR 0017). It has the sandbox's monitor put the
/// member's files into the pod's share, has the pod VM's agent create the container (joining the
/// pod's ipc and uts namespaces; the guest's network is the pod's), relays its stdio and signals
/// as a monitor does, and exits with its status, after the container and its files are gone from
/// the VM. The VM is the sandbox's: it outlives the member.
/// A container's monitor that claimed a pooled VM (ADR 0018) runs the same relay there
/// (<see cref="RunPooledAsync"/>): no pod namespaces to join, and the VM ends with it.
/// </summary>
public static class MemberProcess
{
    public const string Verb = "__member";

    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(60) };

    public static int Run(ContainerRuntime rt, string id, string report, string? ttyPath)
    {
        _ = Interop.ProcessCalls.NewSession();
        Action<string> log = MonitorProcess.HelperLog(rt, id);
        VmOfOthers vm;
        try
        {
            ContainerRecord record = rt.Store.Load(id);
            string sandboxId = record.SandboxId ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"container {id} is not a pod member");
            ContainerRecord sandbox = rt.Store.Load(sandboxId);
            // The pod's VM is gone once its monitor recorded the sandbox's exit (it does so
            // before it tears the VM down) or is dead.
            vm = new VmOfOthers(record.VmRunDir(), sandboxId, $"pod member {id}",
                () => rt.Store.ReadExit(sandboxId) is not null || !rt.Host.IsAlive(sandbox.MonitorPid, sandbox.MonitorStartTime));
        }
        catch (Exception e)
        {
            log(VmSandboxException.FormatChain(e));
            return SandboxMonitor.ReportFailureAsync(report, e, log).GetAwaiter().GetResult();
        }
        return RunAsync(rt, id, report, ttyPath, vm, log).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The VM a container runs in when it is not its monitor's own: its pod's (<see cref="SandboxId"/>
    /// set: the agent joins the pod's namespaces, and the container's files leave the share when it
    /// ends) or a pooled one that it claimed (null: the VM ends with this process).
    /// </summary>
    public sealed record VmOfOthers(string Dir, string? SandboxId, string What, Func<bool> Gone)
    {
        /// <summary>What the report to create adds: where the VM's sockets are (a pooled VM's; a pod's the record has).</summary>
        public PoolClaim? Pool { get; init; }
    }

    /// <summary>Runs container <paramref name="id"/> in a pooled VM it claimed (the caller, a monitor, joined its network namespace).</summary>
    public static Task<int> RunPooledAsync(ContainerRuntime rt, string id, string report, string? ttyPath, PoolClaim claim, Action<string> log) =>
        RunAsync(rt, id, report, ttyPath, new VmOfOthers(claim.Dir, null, $"container {id}", () => !rt.Host.IsAlive(claim.Pid, claim.StartTime)) { Pool = claim }, log);

    private static async Task<int> RunAsync(ContainerRuntime rt, string id, string report, string? ttyPath, VmOfOthers vm, Action<string> log)
    {
        bool reported = false, shared = false, created = false;
        string vmDir = vm.Dir;
        string? sandboxId = vm.SandboxId;
        AgentConnection? conn = null;
        try
        {
            ContainerRecord record = rt.Store.Load(id);
            LoadedSpec loaded = rt.Store.LoadSpec(record);
            if (vm.Pool is not null)
            {
                // Its monitor stands for the container in the host cgroup, as a monitor that booted.
                Sandbox.HostCgroup.Join(record.HostCgroups ?? [], Environment.ProcessId);
            }
            MonitorControl.Request(vmDir, $"{MonitorControl.AddMember} {id}", TimeSpan.FromSeconds(60));
            shared = true;
            string prefix = SandboxPlan.MemberPrefix(id);
            SandboxPlan plan = SandboxPlan.Create(loaded, rt.Config, "", p => File.Exists(p) || Directory.Exists(p), File.ReadLines("/proc/self/mountinfo"), prefix);
            conn = await AgentConnection.ConnectAsync(vmDir, CancellationToken.None);
            AgentClient agent = conn.Agent;
            bool terminal = loaded.Spec.Process?.Terminal ?? false;
            using Interop.SafeFd? tty = ttyPath is null ? null : Terminal.ConsolePty.OpenControllingPeer(ttyPath, log);
            using ProcessIo io = ProcessIo.ForHelper(Path.Combine(vmDir, Vsock.HybridVsockTransport.UdsFileName), tty, terminal, releaseAtEof: true);
            var request = new CreateContainerRequest
            {
                ContainerId = id,
                OciSpec = ByteString.CopyFrom(loaded.Json.Span),
                Rootfs = plan.Rootfs,
                Bundle = loaded.BundlePath,
                Stdio = io.Describe(),
                Terminal = terminal,
                SandboxId = sandboxId ?? "",
            };
            request.SharedMounts.AddRange(plan.SharedMounts);
            CreateContainerResponse response = await agent.CreateContainerAsync(request, s_call, CancellationToken.None);
            PhaseLog.Mark(rt.Config.PhaseLogPath, id, "guest-created");
            created = true;
            await io.StartAsync(bytes => agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = id, StdinBytes = bytes }, s_call, CancellationToken.None), CancellationToken.None);
            await MonitorReport.SendAsync(report, new MonitorReport
            {
                GuestPid = GuestPid.From(response.Pid, $"create {id}"),
                VmRunDir = vm.Pool?.Dir,
                VmPid = vm.Pool?.Pid ?? 0,
                VmStartTime = vm.Pool?.StartTime ?? 0,
            }, log);
            reported = true;
            log($"{vm.What}: created in {(sandboxId is null ? "pooled vm " + Path.GetFileName(vmDir) : "the VM of " + sandboxId)}, guest pid {response.Pid}");

            using var signals = new GuestSignalRelay(agent, id, "", tty, log);
            await signals.ResizeAsync();
            int code;
            try
            {
                WaitProcessResponse exit = await ProcessWaiter.UntilExitAsync(agent, vmDir, id, "", vm.Gone, log, CancellationToken.None);
                code = exit.ExitCode;
                if (exit.Signal == 9)
                {
                    await OomForwarder.ForwardIfOomKilledAsync(agent, id, log);
                }
            }
            catch (Exception e) when (e is VmSandboxException or IOException or SocketException or TtrpcException { Status: StatusCode.Unavailable })
            {
                log($"{vm.What}: lost its VM: {VmSandboxException.FormatChain(e)}");
                code = SandboxMonitor.VmLostExitCode;
            }
            // Recorded before the output drains: `state` says stopped from here (as SandboxMonitor).
            rt.Store.WriteExit(id, code);
            PhaseLog.Mark(rt.Config.PhaseLogPath, id, "exited");
            log($"{vm.What}: exited with status {code}");
            await io.DrainAsync();
            if (vm.Pool is not null)
            {
                // Its VM ends when this process does, right after its caller learnt the status.
                created = shared = false;
            }
            return code;
        }
        catch (Exception e)
        {
            log($"{vm.What}: {VmSandboxException.FormatChain(e)}");
            if (!reported)
            {
                await MonitorReport.SendAsync(report, MonitorReport.Failed(e), log);
            }
            return ExitCodes.Failure;
        }
        finally
        {
            if (created && conn is not null)
            {
                try
                {
                    await conn.Agent.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, s_call, CancellationToken.None);
                }
                catch (Exception e) when (e is VmSandboxException or TtrpcException or IOException or SocketException)
                {
                    log($"{vm.What}: remove from the VM: {e.Message}");
                }
            }
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
            if (shared)
            {
                try
                {
                    MonitorControl.Request(vmDir, $"{MonitorControl.RemoveMember} {id}", TimeSpan.FromSeconds(30));
                }
                catch (VmSandboxException e)
                {
                    log($"{vm.What}: take its files out of the share: {e.Message}");
                }
            }
        }
    }
}
