using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>
/// Draws a measure's PNG with gnuplot (Debian's gnuplot-nox, `make setup`): one panel per column,
/// a bar per runtime with its value on it, linear axes (the table carries the ratios). The files
/// go into a folder named after the page (docs/performance.md → docs/performance/KEY.png).
/// </summary>
internal sealed class Plots
{
    private const string Gnuplot = "/usr/bin/gnuplot";
    private readonly string _dir;
    private readonly string _linkPrefix;

    public Plots(string pagePath)
    {
        string name = Path.GetFileNameWithoutExtension(pagePath);
        _dir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(pagePath))!, name);
        _linkPrefix = name + "/";
    }

    /// <summary>Writes KEY.png; returns its link relative to the page, or null when gnuplot is missing or failed.</summary>
    public string? Draw(string key, string title, Column[] columns, List<(string Runtime, double?[] Values)> rows)
    {
        if (!File.Exists(Gnuplot) || rows.Count == 0)
        {
            return null;
        }
        Directory.CreateDirectory(_dir);
        string work = Directory.CreateTempSubdirectory("vmsb-bench-plot-").FullName;
        try
        {
            string data = Path.Combine(work, "data");
            var table = new StringBuilder();
            foreach ((string runtime, double?[] values) in rows)
            {
                table.Append('"').Append(runtime.Replace("\"", "'", StringComparison.Ordinal)).Append('"');
                foreach (double? v in values)
                {
                    table.Append(' ').Append(v is { } x ? x.ToString("R", CultureInfo.InvariantCulture) : "?");
                }
                table.AppendLine();
            }
            File.WriteAllText(data, table.ToString());
            string png = Path.Combine(_dir, key + ".png");
            var script = new StringBuilder();
            script.AppendLine(CultureInfo.InvariantCulture, $"set terminal pngcairo size {Math.Max(420, 330 * columns.Length)},380 font 'sans,9'");
            script.AppendLine(CultureInfo.InvariantCulture, $"set output {Quote(png)}");
            script.AppendLine("set datafile missing '?'");
            script.AppendLine("set style fill solid 0.75 border -1");
            script.AppendLine("set boxwidth 0.6");
            script.AppendLine("set grid ytics");
            script.AppendLine("unset key");
            script.AppendLine("set xtics scale 0 rotate by -20");
            script.AppendLine("set offsets 0.5, 0.5, 0, 0");
            script.AppendLine("set yrange [0:*]");
            script.AppendLine(CultureInfo.InvariantCulture, $"set multiplot layout 1,{columns.Length} title {Quote(title + ", medians")}");
            for (int i = 0; i < columns.Length; i++)
            {
                int col = i + 2;
                string decimals = columns[i].Format.Length > 1 ? columns[i].Format[1..] : "0";
                script.AppendLine(CultureInfo.InvariantCulture, $"set title {Quote(columns[i].Header)}");
                script.AppendLine(CultureInfo.InvariantCulture, $"set ylabel {Quote(columns[i].Unit)}");
                script.AppendLine(CultureInfo.InvariantCulture,
                    $"plot {Quote(data)} using 0:{col}:($0+1):xtic(1) with boxes lc variable, '' using 0:{col}:(sprintf('%.{decimals}f', ${col})) with labels offset 0,0.6");
            }
            script.AppendLine("unset multiplot");
            string scriptPath = Path.Combine(work, "plot.gp");
            File.WriteAllText(scriptPath, script.ToString());
            (int rc, _, string err) = Program.Run(Gnuplot, [scriptPath], TimeSpan.FromMinutes(1));
            if (rc != 0)
            {
                Console.Error.WriteLine($"bench: gnuplot for {key} failed: {err.Trim()}");
                return null;
            }
            return _linkPrefix + key + ".png";
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";
}
