using System.Globalization;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A pod's limits as the kubelet wrote them on the pod's cgroup: the parent of the sandbox
/// container's host cgroup (cgroup parent ".../podUID", or the systemd pod slice). containerd 1.6
/// puts no pod totals in the sandbox's annotations (1.7 does, <see cref="SandboxPlan.PodResources"/>),
/// but the kubelet has made the pod cgroup before RunPodSandbox, with the memory limit and CPU
/// quota of the whole pod when every container sets one (Guaranteed and fully limited Burstable
/// pods; the pod's RuntimeClass overhead is included there). "max" (v2) or v1's
/// page-counter maximum means none.
/// </summary>
public static class PodCgroupLimits
{
    // v1 reports "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages).
    private const long UnlimitedFrom = 1L << 60;

    /// <param name="sandboxCgroups">The sandbox container's host cgroup directories (<see cref="HostCgroup.Resolve"/>).</param>
    /// <param name="read">Reads a cgroup file; null when it is absent or unreadable.</param>
    public static LinuxResources? Read(IReadOnlyList<string> sandboxCgroups, Func<string, string?> read)
    {
        long? memory = null;
        (long Quota, ulong Period)? cpu = null;
        foreach (string dir in sandboxCgroups)
        {
            if (Path.GetDirectoryName(dir.TrimEnd('/')) is not { } pod)
            {
                continue;
            }
            memory ??= Memory(read(Path.Combine(pod, "memory.max")) ?? read(Path.Combine(pod, "memory.limit_in_bytes")));
            cpu ??= CpuV2(read(Path.Combine(pod, "cpu.max")))
                ?? CpuV1(read(Path.Combine(pod, "cpu.cfs_quota_us")), read(Path.Combine(pod, "cpu.cfs_period_us")));
        }
        if (memory is null && cpu is null)
        {
            return null;
        }
        return new LinuxResources
        {
            Memory = memory is null ? null : new LinuxResources.MemoryLimits { Limit = memory },
            Cpu = cpu is { } c ? new LinuxResources.CpuLimits { Quota = c.Quota, Period = c.Period } : null,
        };
    }

    /// <summary>The files of the host: null for a missing or unreadable one.</summary>
    public static string? ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal static long? Memory(string? text) =>
        long.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) && bytes > 0 && bytes < UnlimitedFrom ? bytes : null;

    /// <summary>v2 cpu.max: "QUOTA PERIOD" or "max PERIOD".</summary>
    internal static (long, ulong)? CpuV2(string? text)
    {
        string[] fields = text?.Trim().Split(' ') ?? [];
        return fields.Length == 2 ? Cpu(fields[0], fields[1]) : null;
    }

    /// <summary>v1 cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us.</summary>
    internal static (long, ulong)? CpuV1(string? quota, string? period) =>
        quota is null || period is null ? null : Cpu(quota.Trim(), period.Trim());

    private static (long, ulong)? Cpu(string quota, string period) =>
        long.TryParse(quota, NumberStyles.None, CultureInfo.InvariantCulture, out long q) && q > 0
        && ulong.TryParse(period, NumberStyles.None, CultureInfo.InvariantCulture, out ulong p) && p > 0
            ? (q, p)
            : null;
}
