using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>One measured quantity: its column header, its unit, and how its values print ("F0", "F1").</summary>
internal sealed record Column(string Header, string Unit, string Format);

/// <summary>
/// One measure's results: a row per runtime (vmsandbox, later "vmsandbox, warm pool", runc,
/// runsc), a column per quantity. Written as a markdown table whose every cell carries its ratio
/// to runc's and (where there is a runsc row) to runsc's value from the same run, and as a PNG (gnuplot, one panel per
/// column) next to the page, linked from it.
/// </summary>
internal sealed class ResultTable
{
    private readonly string _key;
    private readonly string _title;
    private readonly Column[] _columns;
    private readonly List<(string Runtime, double?[] Values, string? Note)> _rows = [];

    /// <param name="key">The plot's file name without extension: the section's `--only` name.</param>
    public ResultTable(string key, string title, params Column[] columns)
    {
        _key = key;
        _title = title;
        _columns = columns;
    }

    /// <summary>A runtime's values, one per column; null where that one could not be measured (<paramref name="note"/> says why).</summary>
    public void Add(string runtime, double?[] values, string? note = null) => _rows.Add((runtime, values, note));

    public void Fail(string runtime, string why) => _rows.Add((runtime, new double?[_columns.Length], why));

    public void Write(StringBuilder doc, Plots plots)
    {
        double?[]? runc = _rows.Find(r => r.Runtime == "runc").Values;
        double?[]? runsc = _rows.Find(r => r.Runtime == "runsc").Values;
        // A measure without runsc (CRI here has no runsc handler) has no runsc ratio.
        bool withRunsc = _rows.Exists(r => r.Runtime == "runsc");
        doc.Append("| runtime |");
        foreach (Column c in _columns)
        {
            doc.Append(CultureInfo.InvariantCulture, $" {c.Header}, {c.Unit} ({(withRunsc ? "× runc, × runsc" : "× runc")}) |");
        }
        doc.AppendLine().Append("|---|").AppendLine(string.Concat(Enumerable.Repeat("---:|", _columns.Length)));
        foreach ((string runtime, double?[] values, string? note) in _rows)
        {
            doc.Append(CultureInfo.InvariantCulture, $"| {runtime} |");
            // The note (why values are missing) goes in the first empty cell, inside the table.
            string? pending = note?.Replace("|", "/", StringComparison.Ordinal);
            for (int i = 0; i < _columns.Length; i++)
            {
                string cell = Cell(values[i], runc?[i], runsc?[i], _columns[i].Format, withRunsc);
                if (cell.Length == 0 && pending is not null)
                {
                    (cell, pending) = (pending, null);
                }
                doc.Append(' ').Append(cell).Append(" |");
            }
            doc.AppendLine();
        }
        doc.AppendLine();
        string? link = plots.Draw(_key, _title, _columns, _rows.Select(r => (r.Runtime, r.Values)).ToList());
        doc.AppendLine(link is null ? "(no plot: gnuplot is missing or failed; fix: `make setup`)" : $"![{_title}]({link})").AppendLine();
    }

    private static string Cell(double? value, double? runc, double? runsc, string format, bool withRunsc)
    {
        if (value is not { } v)
        {
            return "";
        }
        // Two significant digits below 0.1 (a ratio of 0.0037 is not "0.00").
        string Ratio(double? b) => b is > 0 ? (v / b.Value).ToString((v / b.Value) switch { >= 10 => "F1", >= 0.1 => "F2", _ => "G2" }, CultureInfo.InvariantCulture) + "×" : "–";
        string plain = v.ToString(format, CultureInfo.InvariantCulture);
        return runc is null && runsc is null ? plain : withRunsc ? $"{plain} ({Ratio(runc)}, {Ratio(runsc)})" : $"{plain} ({Ratio(runc)})";
    }
}
