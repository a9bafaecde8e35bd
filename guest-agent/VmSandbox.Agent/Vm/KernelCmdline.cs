using System.Globalization;

namespace VmSandbox.Agent.Vm;

/// <summary>The kernel command line (/proc/cmdline) as the agent reads it: whitespace-separated words.</summary>
public static class KernelCmdline
{
    public static string[] Words(string cmdline) => cmdline.Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Whether the word <paramref name="flag"/> (a parameter without a value) is on the line.</summary>
    public static bool Has(string cmdline, string flag) => Words(cmdline).Contains(flag);

    /// <summary>The first <paramref name="prefix"/>N with N a decimal number above 0, or null.</summary>
    public static uint? PositiveNumber(string cmdline, string prefix)
    {
        foreach (string word in Words(cmdline))
        {
            if (word.StartsWith(prefix, StringComparison.Ordinal)
                && uint.TryParse(word.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out uint value)
                && value > 0)
            {
                return value;
            }
        }
        return null;
    }
}
