namespace VmSandbox.Install.Containerd;

/// <summary>
/// A scanned TOML text and the questions an edit asks of it: which statements make up a table
/// (its header, the pairs after it, up to the next header), where a table's content ends, and
/// which text a table takes up, so that it can be cut out or replaced line for line.
/// </summary>
internal sealed class TomlDocument
{
    private TomlDocument(string text, IReadOnlyList<TomlStatement> statements)
    {
        Text = text;
        Statements = statements;
    }

    public string Text { get; }

    public IReadOnlyList<TomlStatement> Statements { get; }

    public static TomlDocument Parse(string text) => new(text, TomlScanner.Scan(text));

    /// <summary>The top-level pair <paramref name="key"/> (before any header), if any.</summary>
    public TomlStatement? TopLevel(string key) => Statements
        .TakeWhile(s => !s.IsHeader)
        .LastOrDefault(s => s.Kind == TomlStatementKind.KeyValue && s.Key is [var k] && k == key);

    /// <summary>The indexes of the [table] headers at or below <paramref name="path"/>, in file order.</summary>
    public IEnumerable<int> TablesUnder(IReadOnlyList<string> path) => Enumerable.Range(0, Statements.Count)
        .Where(i => Statements[i].Kind == TomlStatementKind.Table && StartsWith(Statements[i].Key, path));

    /// <summary>The last statement of the header's table that is not a blank or comment line (the header itself when the table is empty).</summary>
    public int LastContent(int header)
    {
        int last = header;
        for (int i = header + 1; i < Statements.Count && !Statements[i].IsHeader; i++)
        {
            if (Statements[i].Kind != TomlStatementKind.Trivia)
            {
                last = i;
            }
        }
        return last;
    }

    /// <summary>The last statement that is not a blank or comment line; -1 when there is none.</summary>
    public int LastContent()
    {
        for (int i = Statements.Count - 1; i >= 0; i--)
        {
            if (Statements[i].Kind != TomlStatementKind.Trivia)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// The text the header's table takes up: from its header to its last pair (comments and blank
    /// lines after that may belong to what follows, and stay), plus the one blank line before the
    /// header when a pair or header precedes that, which is what <c>install</c> puts there.
    /// </summary>
    public (int Start, int End) TableSpan(int header, bool withBlankBefore)
    {
        int start = Statements[header].Start;
        if (withBlankBefore && header >= 2 && Statements[header - 1] is { Blank: true } && Statements[header - 2].Kind != TomlStatementKind.Trivia)
        {
            start = Statements[header - 1].Start;
        }
        return (start, Statements[LastContent(header)].End);
    }

    public static bool StartsWith(IReadOnlyList<string> key, IReadOnlyList<string> prefix) =>
        key.Count >= prefix.Count && key.Take(prefix.Count).SequenceEqual(prefix, StringComparer.Ordinal);

    /// <summary>A key as TOML spells it: <c>plugins."io.containerd.grpc.v1.cri".containerd</c>.</summary>
    public static string Render(IEnumerable<string> key, bool literal = false) => string.Join('.', key.Select(k => TomlValue.Key(k, literal)));
}
