using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Hypervisor;

/// <summary>A running sandbox VM, whatever the hypervisor.</summary>
public interface IVm : IAsyncDisposable
{
    VmSpec Spec { get; }
    int Pid { get; }
    bool HasExited { get; }
    BootTimings? Timings { get; }
    AgentReadiness? Readiness { get; }
    Task<AgentReadiness> WaitForAgentAsync(TimeSpan timeout, CancellationToken ct);
    Task<StopOutcome> StopAsync(TimeSpan graceful, CancellationToken ct = default);
    Task<bool> WaitExitAsync(TimeSpan timeout);
    /// <summary>Adds <paramref name="device"/> to the running VM (a free hot-plug slot of <see cref="VmSpec.HotplugSlots"/>).</summary>
    Task HotplugAsync(VmDevice device, CancellationToken ct);
}
