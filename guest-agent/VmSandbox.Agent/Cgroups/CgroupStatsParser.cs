using System.Globalization;
using VmSandbox.Agent.Protocol;

namespace VmSandbox.Agent.Cgroups;

/// <summary>Parses cgroup v2 statistics files into <see cref="StatsResponse"/> parts. Tolerant: unknown or malformed lines are skipped.</summary>
public static class CgroupStatsParser
{
    /// <summary>"key value" lines (cpu.stat, memory.stat, memory.events).</summary>
    public static Dictionary<string, ulong> FlatKeyed(string text)
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
            {
                values[parts[0]] = v;
            }
        }
        return values;
    }

    /// <summary>A single value file: a number, or "max" (returned as 0 = no limit).</summary>
    public static ulong Single(string text)
    {
        string t = text.Trim();
        return ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : 0;
    }

    public static CpuStats Cpu(string cpuStat)
    {
        var v = FlatKeyed(cpuStat);
        return new CpuStats
        {
            UsageUsec = v.GetValueOrDefault("usage_usec"),
            UserUsec = v.GetValueOrDefault("user_usec"),
            SystemUsec = v.GetValueOrDefault("system_usec"),
            NrPeriods = v.GetValueOrDefault("nr_periods"),
            NrThrottled = v.GetValueOrDefault("nr_throttled"),
            ThrottledUsec = v.GetValueOrDefault("throttled_usec"),
        };
    }

    /// <summary>io.stat lines: "MAJ:MIN rbytes=… wbytes=… rios=… wios=… …".</summary>
    public static List<IoDeviceStats> Io(string ioStat)
    {
        var devices = new List<IoDeviceStats>();
        foreach (string line in ioStat.Split('\n'))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
            {
                continue;
            }
            string[] dev = parts[0].Split(':');
            if (dev.Length != 2
                || !uint.TryParse(dev[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major)
                || !uint.TryParse(dev[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
            {
                continue;
            }
            var stats = new IoDeviceStats { Major = major, Minor = minor };
            foreach (string kv in parts.AsSpan(1))
            {
                int eq = kv.IndexOf('=');
                if (eq <= 0 || !ulong.TryParse(kv.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
                {
                    continue;
                }
                switch (kv[..eq])
                {
                    case "rbytes": stats.ReadBytes = value; break;
                    case "wbytes": stats.WriteBytes = value; break;
                    case "rios": stats.ReadIos = value; break;
                    case "wios": stats.WriteIos = value; break;
                }
            }
            devices.Add(stats);
        }
        return devices;
    }
}
