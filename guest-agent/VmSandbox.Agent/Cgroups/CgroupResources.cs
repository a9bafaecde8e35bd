using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Cgroups;

/// <summary>
/// OCI <c>linux.resources</c> → cgroup v2 interface files and values, with runc's (fs2)
/// conversions: cpu shares → cpu.weight, quota/period → cpu.max, memory swap as limit+swap.
/// Pure, so that unit tests cover it.
/// </summary>
public static class CgroupResources
{
    public const ulong DefaultCpuPeriod = 100_000;

    /// <summary>The files to write, in a safe order (memory.max before memory.swap.max).</summary>
    public static IReadOnlyList<(string File, string Value)> ToFiles(LinuxResources? resources)
    {
        var files = new List<(string, string)>();
        if (resources is null)
        {
            return files;
        }
        if (resources.Memory is { } memory)
        {
            if (memory.Limit is long limit && limit != 0)
            {
                files.Add(("memory.max", Max(limit)));
            }
            if (memory.Reservation is long low && low != 0)
            {
                files.Add(("memory.low", Max(low)));
            }
            if (SwapMax(memory.Limit ?? 0, memory.Swap ?? 0) is { } swap)
            {
                files.Add(("memory.swap.max", swap));
            }
        }
        if (resources.Cpu is { } cpu)
        {
            if (cpu.Shares is ulong shares && shares != 0)
            {
                files.Add(("cpu.weight", CpuWeight(shares).ToString(CultureInfo.InvariantCulture)));
            }
            if (CpuMax(cpu.Quota, cpu.Period) is { } max)
            {
                files.Add(("cpu.max", max));
            }
            // cpu.cpus and cpu.mems name host CPUs and memory nodes: the host cgroup applies them
            // to the VM (HostCgroup.SetCpuset), and the VM has as many vCPUs as the set.
            if (cpu.Idle is long idle)
            {
                files.Add(("cpu.idle", idle.ToString(CultureInfo.InvariantCulture)));
            }
        }
        if (resources.Pids is { } pids)
        {
            files.Add(("pids.max", pids.Limit > 0 ? pids.Limit.ToString(CultureInfo.InvariantCulture) : "max"));
        }
        foreach (var (key, value) in resources.Unified ?? new Dictionary<string, string>())
        {
            if (key.Length == 0 || key.Contains('/') || key.StartsWith('.') || !key.Contains('.') || key.StartsWith("cgroup.", StringComparison.Ordinal))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.resources.unified {key}: not a controller file");
            }
            files.Add((key, value));
        }
        return files;
    }

    /// <summary>runc's ConvertCPUSharesToCgroupV2Value: [2, 262144] → [1, 10000].</summary>
    public static ulong CpuWeight(ulong shares)
    {
        if (shares == 0)
        {
            return 0;
        }
        ulong clamped = Math.Clamp(shares, 2UL, 262_144UL);
        return 1 + ((clamped - 2) * 9999 / 262_142);
    }

    /// <summary>cpu.max "quota period" ("max period" when unlimited); null when neither is set.</summary>
    public static string? CpuMax(long? quota, ulong? period)
    {
        if (quota is null && (period is null or 0))
        {
            return null;
        }
        ulong p = period is > 0 ? period.Value : DefaultCpuPeriod;
        string q = quota is > 0 ? quota.Value.ToString(CultureInfo.InvariantCulture) : "max";
        return string.Create(CultureInfo.InvariantCulture, $"{q} {p}");
    }

    /// <summary>
    /// memory.swap.max from the OCI memory+swap total (runc's ConvertMemorySwapToCgroupV2Value):
    /// -1 → max; total ≥ limit → total − limit; unset → null.
    /// </summary>
    public static string? SwapMax(long limit, long swap)
    {
        if (swap == -1)
        {
            return "max";
        }
        if (swap == 0)
        {
            return null;
        }
        if (limit <= 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "linux.resources.memory.swap: needs a memory limit");
        }
        return swap < limit
            ? throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.resources.memory.swap {swap}: less than the memory limit {limit}")
            : (swap - limit).ToString(CultureInfo.InvariantCulture);
    }

    private static string Max(long value) => value < 0 ? "max" : value.ToString(CultureInfo.InvariantCulture);
}
