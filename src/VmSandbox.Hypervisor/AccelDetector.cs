using VmSandbox.Common;

namespace VmSandbox.Hypervisor;

/// <summary>
/// Picks KVM or TCG. KVM counts as usable only when /dev/kvm opens and KVM_CREATE_VM works
/// (the same test QEMU makes), because a device node alone proves nothing: nested hosts often
/// have one that cannot create VMs.
/// </summary>
public sealed class AccelDetector
{
    private readonly Func<string?> _kvmUnusableReason;

    /// <param name="kvmUnusableReason">Returns null when KVM works, else why not.</param>
    public AccelDetector(Func<string?> kvmUnusableReason)
    {
        _kvmUnusableReason = kvmUnusableReason;
    }

    public static AccelDetector ForHost() =>
        new(() => Interop.Kvm.ProbeUnusableReason() ?? CpuFlagsUnusableReason(File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : ""));

    /// <summary>
    /// A /dev/kvm that creates VMs on a CPU that advertises neither vmx nor svm is a partial KVM
    /// (seen on sandboxed cloud hosts): QEMU aborts setting MSRs with -cpu host and hangs the guest
    /// with older models. Real KVM hosts, nested ones included, show the flag.
    /// </summary>
    public static string? CpuFlagsUnusableReason(string cpuinfo)
    {
        foreach (string line in cpuinfo.Split('\n'))
        {
            if (line.StartsWith("flags", StringComparison.Ordinal))
            {
                string[] flags = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return flags.Contains("vmx") || flags.Contains("svm")
                    ? null
                    : "/dev/kvm works but the cpu advertises neither vmx nor svm, so kvm guests cannot boot reliably";
            }
        }
        return "/proc/cpuinfo lists no cpu flags";
    }

    /// <summary>The accelerator to use, and a warning for the log when TCG was chosen by fallback.</summary>
    public (Accelerator Accel, string? Warning) Choose(AccelMode mode)
    {
        switch (mode)
        {
            case AccelMode.Tcg:
                return (Accelerator.Tcg, null);
            case AccelMode.Kvm:
                string? reason = _kvmUnusableReason();
                return reason is null
                    ? (Accelerator.Kvm, null)
                    : throw new VmSandboxException(ErrorCode.HostMissing, $"kvm was requested but is not usable: {reason}")
                    {
                        Hint = "set hypervisor.accel to \"auto\" or \"tcg\" in /etc/vmsandbox/config.json",
                    };
            default:
                string? why = _kvmUnusableReason();
                return why is null
                    ? (Accelerator.Kvm, null)
                    : (Accelerator.Tcg, $"kvm not usable ({why}); falling back to tcg emulation, which is much slower");
        }
    }

    public static AccelMode ParseMode(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => AccelMode.Auto,
        "kvm" => AccelMode.Kvm,
        "tcg" => AccelMode.Tcg,
        _ => throw new VmSandboxException(ErrorCode.Config, $"accelerator \"{text}\" is not one of auto, kvm, tcg"),
    };
}
