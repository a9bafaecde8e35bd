using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Hypervisor;

/// <summary>A running sandbox VM, whatever the hypervisor.</summary>
public interface IVm : IAsyncDisposable
{
    VmSpec Spec { get; }
    int Pid { get; }
    bool HasExited { get; }
    /// <summary>Host wall time since the hypervisor process was spawned.</summary>
    TimeSpan SinceStart { get; }
    /// <summary>When (since spawn) the hypervisor's control channel first answered.</summary>
    TimeSpan ControlReadyAt { get; }
    /// <summary>The guest's serial console, as a file the guest writes (untrusted text).</summary>
    string ConsoleLogPath { get; }
    /// <summary>Why the hypervisor process exited (its exit code and last stderr line).</summary>
    Common.VmSandboxException ExitError();
    Task<StopOutcome> StopAsync(TimeSpan graceful, CancellationToken ct = default);
    Task<bool> WaitExitAsync(TimeSpan timeout);
    /// <summary>Adds <paramref name="device"/> to the running VM (a free hot-plug slot of <see cref="VmSpec.HotplugSlots"/>).</summary>
    Task HotplugAsync(VmDevice device, CancellationToken ct);
}
