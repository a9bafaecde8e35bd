namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Where a boot spent its time, in milliseconds of host wall time, split with the guest's own
/// uptime stamps: QEMU start (spawn → QMP answers), firmware and kernel load (the rest until the
/// kernel's clock starts), kernel (kernel start → /init), agent init (/init → ready).
/// </summary>
public sealed record BootTimings(double QemuStartMs, double FirmwareMs, double KernelMs, double AgentInitMs, double TotalMs)
{
    public static BootTimings From(double spawnToQmpMs, double spawnToReadyMs, AgentReadiness r)
    {
        double firmware = Math.Max(0, spawnToReadyMs - spawnToQmpMs - r.ReadyMs);
        return new BootTimings(spawnToQmpMs, firmware, r.StartedMs, r.ReadyMs - r.StartedMs, spawnToReadyMs);
    }
}
