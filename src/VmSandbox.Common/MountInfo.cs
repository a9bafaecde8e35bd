using System.Text;

namespace VmSandbox.Common;

/// <summary>Helpers for /proc/*/mountinfo and /proc/mounts, whose paths escape space, tab, newline and backslash as \ooo.</summary>
public static class MountInfo
{
    public static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        var sb = new StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctalAt(field, i + 1) && IsOctalAt(field, i + 2) && IsOctalAt(field, i + 3))
            {
                sb.Append((char)(((field[i + 1] - '0') * 64) + ((field[i + 2] - '0') * 8) + (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctalAt(string s, int i) => i < s.Length && s[i] is >= '0' and <= '7';
}
