using System.Globalization;

namespace VmSandbox.Oci;

/// <summary>The runtime-spec versions VmSandbox reads: 1.0.x, 1.1.x and 1.2.x (pre-releases included).</summary>
public static class SpecVersion
{
    /// <summary>What <c>vmsandbox spec</c> writes into ociVersion.</summary>
    public const string Current = "1.0.2";

    public const string Min = "1.0.0";

    public const string Max = "1.2.0";

    /// <summary>Whether <paramref name="version"/> is "1.{0,1,2}.PATCH", optionally with "-pre" or "+build".</summary>
    public static bool IsSupported(string? version)
    {
        if (string.IsNullOrEmpty(version))
        {
            return false;
        }
        int end = version.IndexOfAny(['-', '+']);
        string core = end < 0 ? version : version[..end];
        if (end >= 0 && end == version.Length - 1)
        {
            return false;
        }
        string[] parts = core.Split('.');
        if (parts.Length != 3 || !parts.All(IsNumber))
        {
            return false;
        }
        return parts[0] == "1" && int.Parse(parts[1], CultureInfo.InvariantCulture) <= 2;
    }

    // semver: numeric identifiers, no leading zeros, and short enough to parse.
    private static bool IsNumber(string s) =>
        s.Length is > 0 and <= 6 && s.All(char.IsAsciiDigit) && (s.Length == 1 || s[0] != '0');
}
