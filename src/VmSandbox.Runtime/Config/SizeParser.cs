using System.Globalization;
using VmSandbox.Common;

namespace VmSandbox.Runtime.Config;

/// <summary>Parses memory sizes such as "512", "512M", "512MiB", "2G", "2GiB" into MiB.</summary>
public static class SizeParser
{
    public const int MinMemoryMiB = 64;
    public const int MaxMemoryMiB = 1024 * 1024;

    public static int ParseMemoryMiB(string text, string settingName)
    {
        string t = text.Trim();
        long multiplier = 1;
        string digits = t;
        foreach ((string suffix, long mult) in s_suffixes)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                digits = t[..^suffix.Length];
                multiplier = mult;
                break;
            }
        }
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value <= 0)
        {
            throw Invalid(text, settingName, "is not a size");
        }
        long mib = value > long.MaxValue / multiplier ? long.MaxValue : value * multiplier;
        if (mib < MinMemoryMiB || mib > MaxMemoryMiB)
        {
            throw Invalid(text, settingName, $"is outside {MinMemoryMiB}M..{MaxMemoryMiB / 1024}G");
        }
        return (int)mib;
    }

    private static readonly (string Suffix, long Multiplier)[] s_suffixes =
    [
        ("MiB", 1), ("GiB", 1024), ("MB", 1), ("GB", 1024), ("M", 1), ("G", 1024),
    ];

    private static VmSandboxException Invalid(string text, string setting, string why) =>
        new(ErrorCode.Config, $"{setting} \"{text}\" {why}") { Hint = "use a size such as \"512M\" or \"2G\"" };
}
