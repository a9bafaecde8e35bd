using VmSandbox.Hypervisor.Qemu;

namespace VmSandbox.Hypervisor;

/// <summary>
/// The hypervisor driver boundary: QEMU today; Cloud Hypervisor or Firecracker can implement it later.
/// </summary>
public interface IHypervisor
{
    Task<IVm> StartAsync(VmSpec spec, CancellationToken ct);
}

/// <summary>The QEMU driver.</summary>
public sealed class QemuHypervisor : IHypervisor
{
    public async Task<IVm> StartAsync(VmSpec spec, CancellationToken ct) =>
        await QemuVm.StartAsync(spec, TimeSpan.FromSeconds(30), ct);
}
