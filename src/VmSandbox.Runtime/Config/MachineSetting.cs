using VmSandbox.Common;
using VmSandbox.Hypervisor;

namespace VmSandbox.Runtime.Config;

/// <summary>
/// <c>hypervisor.machine</c>: <c>auto</c> (the default: <see cref="MachineType.Microvm"/> for our
/// minimal kernel, which is built for it, <see cref="MachineType.Q35"/> for any other kernel),
/// <c>microvm</c> or <c>q35</c>. Debian's kernel cannot boot on microvm (it has no virtio-mmio
/// command-line devices and hangs), so asking for both is refused here, not found out at boot.
/// ADR 0016 has the numbers behind the default.
/// </summary>
public static class MachineSetting
{
    /// <summary>Whether <paramref name="setting"/> (null: not set) leaves the choice to the runtime.</summary>
    public static bool IsAuto(string? setting) => setting is null || setting.Equals("auto", StringComparison.OrdinalIgnoreCase);

    public static MachineType Select(string? setting, GuestKernelKind kernel) => IsAuto(setting) ? AutoFor(kernel) : setting!.ToLowerInvariant() switch
    {
        "q35" => MachineType.Q35,
        "microvm" when kernel == GuestKernelKind.Debian => throw new VmSandboxException(ErrorCode.Config,
            "hypervisor.machine \"microvm\" cannot boot Debian's cloud kernel (it lacks virtio-mmio command-line devices)")
        {
            Hint = "use machine q35 or auto, or the minimal kernel (make kernel; guest.kernel minimal)",
        },
        "microvm" => MachineType.Microvm,
        _ => throw new VmSandboxException(ErrorCode.Config, $"hypervisor.machine \"{setting}\" is neither auto, microvm nor q35")
        {
            Hint = "use auto, microvm or q35",
        },
    };

    private static MachineType AutoFor(GuestKernelKind kernel) => kernel == GuestKernelKind.Minimal ? MachineType.Microvm : MachineType.Q35;

    /// <summary>How `vmsandbox check` and docs name a machine type.</summary>
    public static string Name(MachineType machine) => machine == MachineType.Microvm ? "microvm" : "q35";
}
