using System.Text.Json.Serialization;
using VmSandbox.Agent.Protocol;

namespace VmSandbox.Cli.Output;

/// <summary>runc's `events` JSON ({"type":"stats","id":…,"data":{cpu,memory,pids,blkio}}), the fields Docker reads.</summary>
public sealed record StatsEvent
{
    [JsonPropertyName("type")] public string Type { get; init; } = "stats";
    [JsonPropertyName("id")] public string Id { get; init; } = "";
    [JsonPropertyName("data")] public StatsData Data { get; init; } = new();

    /// <summary>The guest's microseconds as runc's nanoseconds; a value past what fits (a guest's lie) saturates instead of wrapping.</summary>
    public static ulong Nanoseconds(ulong microseconds) => microseconds > ulong.MaxValue / 1000 ? ulong.MaxValue : microseconds * 1000;

    public static StatsEvent From(string id, StatsResponse s) => new()
    {
        Id = id,
        Data = new StatsData
        {
            Cpu = new CpuData
            {
                Usage = new CpuUsage
                {
                    Total = Nanoseconds(s.Cpu?.UsageUsec ?? 0),
                    Kernel = Nanoseconds(s.Cpu?.SystemUsec ?? 0),
                    User = Nanoseconds(s.Cpu?.UserUsec ?? 0),
                },
                Throttling = new Throttling
                {
                    Periods = s.Cpu?.NrPeriods ?? 0,
                    ThrottledPeriods = s.Cpu?.NrThrottled ?? 0,
                    ThrottledTime = Nanoseconds(s.Cpu?.ThrottledUsec ?? 0),
                },
            },
            Memory = new MemoryData
            {
                Usage = new MemoryEntry { Usage = s.Memory?.UsageBytes ?? 0, Limit = s.Memory is { LimitBytes: > 0 } m ? m.LimitBytes : ulong.MaxValue },
                Swap = new MemoryEntry { Usage = s.Memory?.SwapUsageBytes ?? 0 },
                Raw = new Dictionary<string, ulong>
                {
                    ["anon"] = s.Memory?.AnonBytes ?? 0,
                    ["file"] = s.Memory?.FileBytes ?? 0,
                    ["oom_kill"] = s.Memory?.OomKills ?? 0,
                },
            },
            Pids = new PidsData { Current = s.Pids?.Current ?? 0, Limit = s.Pids?.Limit ?? 0 },
            Blkio = new BlkioData
            {
                IoServiceBytesRecursive = [.. s.Io.SelectMany(d => new[]
                {
                    new BlkioEntry { Major = d.Major, Minor = d.Minor, Op = "Read", Value = d.ReadBytes },
                    new BlkioEntry { Major = d.Major, Minor = d.Minor, Op = "Write", Value = d.WriteBytes },
                })],
            },
        },
    };

    public sealed record StatsData
    {
        [JsonPropertyName("cpu")] public CpuData Cpu { get; init; } = new();
        [JsonPropertyName("memory")] public MemoryData Memory { get; init; } = new();
        [JsonPropertyName("pids")] public PidsData Pids { get; init; } = new();
        [JsonPropertyName("blkio")] public BlkioData Blkio { get; init; } = new();
    }

    public sealed record CpuData
    {
        [JsonPropertyName("usage")] public CpuUsage Usage { get; init; } = new();
        [JsonPropertyName("throttling")] public Throttling Throttling { get; init; } = new();
    }

    public sealed record CpuUsage
    {
        [JsonPropertyName("total")] public ulong Total { get; init; }
        [JsonPropertyName("kernel")] public ulong Kernel { get; init; }
        [JsonPropertyName("user")] public ulong User { get; init; }
    }

    public sealed record Throttling
    {
        [JsonPropertyName("periods")] public ulong Periods { get; init; }
        [JsonPropertyName("throttledPeriods")] public ulong ThrottledPeriods { get; init; }
        [JsonPropertyName("throttledTime")] public ulong ThrottledTime { get; init; }
    }

    public sealed record MemoryData
    {
        [JsonPropertyName("usage")] public MemoryEntry Usage { get; init; } = new();
        [JsonPropertyName("swap")] public MemoryEntry Swap { get; init; } = new();
        [JsonPropertyName("raw")] public Dictionary<string, ulong> Raw { get; init; } = [];
    }

    public sealed record MemoryEntry
    {
        [JsonPropertyName("limit")] public ulong Limit { get; init; }
        [JsonPropertyName("usage")] public ulong Usage { get; init; }
    }

    public sealed record PidsData
    {
        [JsonPropertyName("current")] public ulong Current { get; init; }
        [JsonPropertyName("limit")] public ulong Limit { get; init; }
    }

    public sealed record BlkioData
    {
        [JsonPropertyName("ioServiceBytesRecursive")] public List<BlkioEntry> IoServiceBytesRecursive { get; init; } = [];
    }

    public sealed record BlkioEntry
    {
        [JsonPropertyName("major")] public uint Major { get; init; }
        [JsonPropertyName("minor")] public uint Minor { get; init; }
        [JsonPropertyName("op")] public string Op { get; init; } = "";
        [JsonPropertyName("value")] public ulong Value { get; init; }
    }
}
