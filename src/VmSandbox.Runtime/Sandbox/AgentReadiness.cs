using System.Globalization;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The agent's readiness line on the console, e.g.
/// "vmsandbox-agent: ready version=0.1.0 started_ms=1720 ready_ms=1910 modules=15".
/// The console is written by the guest, so the parser accepts only well-formed numbers.
/// </summary>
public sealed record AgentReadiness(string Version, double StartedMs, double ReadyMs, int Modules, string Line)
{
    public const string Prefix = "vmsandbox-agent: ready ";
    public const string FatalPrefix = "vmsandbox-agent: fatal: ";

    public static AgentReadiness? TryParse(string line)
    {
        int at = line.IndexOf(Prefix, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }
        string version = "";
        double started = -1, ready = -1;
        int modules = -1;
        foreach (string field in line[(at + Prefix.Length)..].TrimEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = field.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            string key = field[..eq], value = field[(eq + 1)..];
            switch (key)
            {
                case "version":
                    version = value;
                    break;
                case "started_ms" when Milliseconds(value) is double s:
                    started = s;
                    break;
                case "ready_ms" when Milliseconds(value) is double r:
                    ready = r;
                    break;
                case "modules" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int m):
                    modules = m;
                    break;
                default:
                    break;
            }
        }
        return started < 0 || ready < started || modules < 0 || version.Length == 0
            ? null
            : new AgentReadiness(version, started, ready, modules, line.Trim());
    }

    // A finite, non-negative figure: double.TryParse also takes "Infinity" and "NaN", which a
    // guest could send to make the boot timings meaningless (found by fuzzing).
    private static double? Milliseconds(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && double.IsFinite(ms) && ms >= 0 ? ms : null;
}
