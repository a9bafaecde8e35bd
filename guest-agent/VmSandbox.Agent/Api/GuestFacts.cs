using System.Globalization;
using VmSandbox.Agent.Protocol;

namespace VmSandbox.Agent.Api;

/// <summary>Reads the guest's facts from /proc (a different root in tests).</summary>
public sealed class GuestFacts
{
    private readonly string _proc;

    public GuestFacts(string procRoot = "/proc")
    {
        _proc = procRoot;
    }

    public GuestDetails Read()
    {
        var details = new GuestDetails
        {
            KernelRelease = File.ReadAllText(Path.Combine(_proc, "sys/kernel/osrelease")).Trim(),
            CpuCount = (uint)Environment.ProcessorCount,
            AgentVersion = AgentInfo.Version,
        };
        foreach (string line in File.ReadLines(Path.Combine(_proc, "meminfo")))
        {
            if (TryKiB(line, "MemTotal:", out ulong total))
            {
                details.MemoryTotalBytes = total * 1024;
            }
            else if (TryKiB(line, "MemAvailable:", out ulong available))
            {
                details.MemoryAvailableBytes = available * 1024;
            }
        }
        string uptime = File.ReadAllText(Path.Combine(_proc, "uptime"));
        details.UptimeNano = (ulong)(double.Parse(uptime.AsSpan(0, uptime.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture) * 1e9);
        return details;
    }

    private static bool TryKiB(string line, string key, out ulong kib)
    {
        kib = 0;
        if (!line.StartsWith(key, StringComparison.Ordinal))
        {
            return false;
        }
        string value = line[key.Length..].Trim();
        if (value.EndsWith(" kB", StringComparison.Ordinal))
        {
            value = value[..^3];
        }
        return ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out kib);
    }
}
