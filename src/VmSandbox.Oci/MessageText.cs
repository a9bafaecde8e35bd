using System.Globalization;
using System.Text;

namespace VmSandbox.Oci;

/// <summary>
/// Values from config.json end up in one-line error messages and JSON log lines: quote them
/// with control characters escaped and cap their length, so that input cannot forge lines.
/// </summary>
internal static class MessageText
{
    public const int MaxValueLength = 64;

    /// <summary><paramref name="value"/> in double quotes, escaped and shortened: <c>"a\nb"</c>.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder(Math.Min(value.Length, MaxValueLength) + 8);
        sb.Append('"');
        Escape(sb, value.Length > MaxValueLength ? value[..MaxValueLength] : value);
        if (value.Length > MaxValueLength)
        {
            sb.Append('…');
        }
        return sb.Append('"').ToString();
    }

    /// <summary><paramref name="message"/> with every control character escaped.</summary>
    public static string OneLine(string message)
    {
        if (!message.Any(char.IsControl))
        {
            return message;
        }
        var sb = new StringBuilder(message.Length + 8);
        Escape(sb, message);
        return sb.ToString();
    }

    private static void Escape(StringBuilder sb, string s)
    {
        foreach (char c in s)
        {
            _ = c switch
            {
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\t' => sb.Append("\\t"),
                _ when char.IsControl(c) => sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
                _ => sb.Append(c),
            };
        }
    }
}
