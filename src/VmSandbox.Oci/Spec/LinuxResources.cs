using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>
/// Cgroup limits (<c>linux.resources</c>). Numbers keep the spec's Go types, so that values such
/// as <c>memory.limit = -1</c> or an unlimited <c>uint64</c> round-trip unchanged.
/// </summary>
public sealed record LinuxResources
{
    public IReadOnlyList<DeviceRule>? Devices { get; init; }

    public MemoryLimits? Memory { get; init; }

    public CpuLimits? Cpu { get; init; }

    public PidsLimit? Pids { get; init; }

    [JsonPropertyName("blockIO")]
    public LinuxBlockIo? BlockIo { get; init; }

    public IReadOnlyList<HugepageLimit>? HugepageLimits { get; init; }

    public NetworkClass? Network { get; init; }

    public IReadOnlyDictionary<string, RdmaLimit>? Rdma { get; init; }

    public IReadOnlyDictionary<string, string>? Unified { get; init; }

    /// <summary>A device cgroup rule: type a|c|b, access a subset of "rwm".</summary>
    public sealed record DeviceRule
    {
        public bool Allow { get; init; }

        public string? Type { get; init; }

        public long? Major { get; init; }

        public long? Minor { get; init; }

        public string? Access { get; init; }
    }

    /// <summary>Memory limits in bytes; -1 means unlimited.</summary>
    public sealed record MemoryLimits
    {
        public long? Limit { get; init; }

        public long? Reservation { get; init; }

        public long? Swap { get; init; }

        public long? Kernel { get; init; }

        [JsonPropertyName("kernelTCP")]
        public long? KernelTcp { get; init; }

        public ulong? Swappiness { get; init; }

        [JsonPropertyName("disableOOMKiller")]
        public bool? DisableOomKiller { get; init; }

        public bool? UseHierarchy { get; init; }

        public bool? CheckBeforeUpdate { get; init; }
    }

    /// <summary>CPU shares, CFS quota/period (µs), realtime budget, cpusets and SCHED_IDLE.</summary>
    public sealed record CpuLimits
    {
        public ulong? Shares { get; init; }

        public long? Quota { get; init; }

        public ulong? Burst { get; init; }

        public ulong? Period { get; init; }

        public long? RealtimeRuntime { get; init; }

        public ulong? RealtimePeriod { get; init; }

        public string? Cpus { get; init; }

        public string? Mems { get; init; }

        public long? Idle { get; init; }
    }

    /// <summary>The pids controller's maximum; 0 or less means unlimited.</summary>
    public sealed record PidsLimit
    {
        public long Limit { get; init; }
    }

    /// <summary>A hugetlb limit for one page size such as "2MB".</summary>
    public sealed record HugepageLimit
    {
        public string PageSize { get; set; } = "";

        public ulong Limit { get; init; }
    }

    /// <summary>net_cls class id and net_prio priorities (cgroup v1 only).</summary>
    public sealed record NetworkClass
    {
        [JsonPropertyName("classID")]
        public uint? ClassId { get; init; }

        public IReadOnlyList<InterfacePriority>? Priorities { get; init; }
    }

    /// <summary>A net_prio priority for one interface.</summary>
    public sealed record InterfacePriority
    {
        public string Name { get; set; } = "";

        public uint Priority { get; init; }
    }

    /// <summary>RDMA limits for one device.</summary>
    public sealed record RdmaLimit
    {
        public uint? HcaHandles { get; init; }

        public uint? HcaObjects { get; init; }
    }
}
