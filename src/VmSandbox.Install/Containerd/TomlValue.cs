using System.Globalization;
using System.Text;

namespace VmSandbox.Install.Containerd;

/// <summary>
/// A TOML value as far as install needs to read one: strings (unescaped), arrays and inline
/// tables, and every other scalar (numbers, booleans, dates) as its text. <see cref="Canonical"/>
/// is equal for values TOML reads as equal however they are spelled (quotes, spaces, comments).
/// </summary>
internal abstract record TomlValue
{
    public abstract string Canonical { get; }

    /// <summary>A TOML basic string literal for <paramref name="s"/>.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                case < ' ' or '\u007f':
                    sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>A key part as TOML spells it: bare when it can be, else quoted (<paramref name="literal"/>: 'single' quotes where possible).</summary>
    public static string Key(string part, bool literal = false)
    {
        if (part.Length > 0 && part.All(IsBareKeyChar))
        {
            return part;
        }
        return literal && !part.Any(c => c is '\'' or < ' ' or '\u007f') ? $"'{part}'" : Quote(part);
    }

    public static bool IsBareKeyChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';
}

/// <summary>A string of any of TOML's four kinds, unescaped.</summary>
internal sealed record TomlString(string Value) : TomlValue
{
    public override string Canonical => Quote(Value);
}

/// <summary>An integer, float, boolean or date, as written (integers without their '_' separators).</summary>
internal sealed record TomlScalar(string Text) : TomlValue
{
    public override string Canonical => Text.Replace("_", "", StringComparison.Ordinal);

    /// <summary>The value when it is a decimal integer.</summary>
    public long? Integer => long.TryParse(Canonical, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : null;
}

internal sealed record TomlArray(IReadOnlyList<TomlValue> Items) : TomlValue
{
    public override string Canonical => "[" + string.Join(",", Items.Select(i => i.Canonical)) + "]";
}

internal sealed record TomlInlineTable(IReadOnlyList<(IReadOnlyList<string> Key, TomlValue Value)> Pairs) : TomlValue
{
    public override string Canonical => "{" + string.Join(",", Pairs
        .Select(p => string.Join(".", p.Key.Select(k => Quote(k))) + "=" + p.Value.Canonical)
        .Order(StringComparer.Ordinal)) + "}";
}
