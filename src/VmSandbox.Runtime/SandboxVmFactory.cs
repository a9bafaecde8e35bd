using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Runtime;

/// <summary>
/// Turns the runtime configuration into a <see cref="VmSpec"/> and starts the VM, choosing the
/// accelerator (KVM or TCG with one warning line) on the way.
/// </summary>
public sealed class SandboxVmFactory
{
    private readonly RuntimeConfig _config;
    private readonly AccelDetector _accel;
    private readonly IHypervisor _hypervisor;
    private readonly Action<string> _warn;

    public SandboxVmFactory(RuntimeConfig config, AccelDetector accel, IHypervisor hypervisor, Action<string> warn)
    {
        _config = config;
        _accel = accel;
        _hypervisor = hypervisor;
        _warn = warn;
    }

    public VmSpec CreateSpec(string id, string stateDir)
    {
        IdValidator.Validate(id);
        (Accelerator accel, string? warning) = _accel.Choose(_config.Accel);
        if (warning is not null)
        {
            _warn(warning);
        }
        return new VmSpec
        {
            Id = id,
            QemuPath = _config.QemuPath,
            KernelPath = _config.KernelPath,
            InitrdPath = _config.InitrdPath,
            StateDir = stateDir,
            Accel = accel,
            Machine = _config.Machine,
            MemoryMiB = _config.MemoryMiB,
            Vcpus = _config.Vcpus,
            ExtraKernelParams = _config.KernelParams,
        };
    }

    /// <summary>Starts the VM and waits for the agent; on any failure nothing is left running.</summary>
    public async Task<IVm> BootAsync(VmSpec spec, CancellationToken ct)
    {
        IVm? vm = null;
        try
        {
            vm = await _hypervisor.StartAsync(spec, ct);
            await vm.WaitForAgentAsync(_config.BootTimeout, ct);
            return vm;
        }
        catch (Exception e)
        {
            if (vm is not null)
            {
                await vm.DisposeAsync();
            }
            throw new VmSandboxException(VmSandboxException.CodeOf(e) is ErrorCode.Internal ? ErrorCode.Vm : VmSandboxException.CodeOf(e),
                $"boot sandbox {spec.Id}", e);
        }
    }
}
