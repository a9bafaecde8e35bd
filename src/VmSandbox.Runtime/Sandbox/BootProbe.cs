using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Oci;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>What one <see cref="BootProbe"/> saw: the agent's greeting, the timings, the guest's facts, how it stopped.</summary>
public sealed record BootReport(string Id, Accelerator Accel, MachineType Machine, AgentReadiness Ready, BootTimings Timings, GuestDetails Guest, string AgentVersion, StopOutcome Outcome);

/// <summary>
/// `vmsandbox boot`: boots a sandbox VM with no container, waits for the agent (readiness line,
/// then Check over vsock), asks for the guest's details, optionally stays up, and powers it off.
/// Its state directory is removed whatever happens (errors and Ctrl-C included).
/// </summary>
public static class BootProbe
{
    /// <param name="running">Called once the agent answered; the VM stays up until the task it returns ends (or the guest goes).</param>
    public static async Task<BootReport> RunAsync(RuntimeConfig config, string id, Func<SandboxVm, CancellationToken, Task>? running, Action<string> log, CancellationToken ct)
    {
        ContainerIdValidator.Validate(id);
        string stateDir = Path.Combine(config.StateRoot, "vm-" + id);
        if (Directory.Exists(stateDir))
        {
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"sandbox {id} exists already ({stateDir})");
        }
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), log);
        try
        {
            VmSpec spec = factory.CreateSpec(id, stateDir);
            await using SandboxVm sandbox = await factory.BootAsync(spec, ct);
            GuestDetails guest = await sandbox.Agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), null, ct);
            if (running is not null)
            {
                await Task.WhenAny(running(sandbox, ct), sandbox.Vm.WaitExitAsync(Timeout.InfiniteTimeSpan));
            }
            StopOutcome outcome = await sandbox.ShutdownAsync(config.StopTimeout, CancellationToken.None);
            return new BootReport(id, spec.Accel, spec.Machine, sandbox.Readiness, sandbox.Timings, guest, sandbox.AgentCheck.AgentVersion, outcome);
        }
        finally
        {
            if (Directory.Exists(stateDir))
            {
                Directory.Delete(stateDir, recursive: true);
            }
        }
    }
}
