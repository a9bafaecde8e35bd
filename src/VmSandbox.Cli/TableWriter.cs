namespace VmSandbox.Cli;

/// <summary>Left-aligned columns separated by spaces, as Go's tabwriter prints runc's tables.</summary>
public static class TableWriter
{
    public static void Write(TextWriter output, IReadOnlyList<string[]> rows)
    {
        int columns = rows.Max(r => r.Length);
        int[] widths = new int[columns];
        foreach (string[] row in rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        foreach (string[] row in rows)
        {
            output.WriteLine(string.Join("   ", row.Select((c, i) => i == row.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
        }
    }
}
