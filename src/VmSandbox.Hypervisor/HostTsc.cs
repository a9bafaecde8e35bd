using System.Globalization;

namespace VmSandbox.Hypervisor;

/// <summary>
/// The host's TSC rate, for TCG guests (<see cref="VmSpec.HostTscKhz"/>). Known only when the
/// host's TSC is invariant (<c>constant_tsc</c> and <c>nonstop_tsc</c>) and the kernel took its
/// rate from the CPU or hypervisor (<c>tsc_known_freq</c>), in which case /proc/cpuinfo's
/// "cpu MHz" is that rate; otherwise 0 and the guest calibrates as before.
/// </summary>
public static class HostTsc
{
    public static long ReadKhz() => File.Exists("/proc/cpuinfo") ? Khz(File.ReadAllText("/proc/cpuinfo")) : 0;

    public static long Khz(string cpuinfo)
    {
        string[]? flags = null;
        double mhz = 0;
        foreach (string line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                if (flags is not null && mhz > 0)
                {
                    break; // the first processor's block is enough
                }
                continue;
            }
            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (key == "flags" && flags is null)
            {
                flags = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
            else if (key == "cpu MHz" && mhz == 0)
            {
                _ = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out mhz);
            }
        }
        bool invariant = flags is not null && flags.Contains("constant_tsc") && flags.Contains("nonstop_tsc") && flags.Contains("tsc_known_freq");
        return invariant && mhz is > 0 and < 100_000 ? (long)Math.Round(mhz * 1000) : 0;
    }
}
