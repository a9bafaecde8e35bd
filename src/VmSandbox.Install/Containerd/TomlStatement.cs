namespace VmSandbox.Install.Containerd;

/// <summary>What one statement of a TOML file is.</summary>
internal enum TomlStatementKind
{
    /// <summary>A blank line or a comment line.</summary>
    Trivia,
    /// <summary><c>[a.b]</c>.</summary>
    Table,
    /// <summary><c>[[a.b]]</c>.</summary>
    ArrayTable,
    /// <summary><c>key = value</c>, the value possibly spanning lines (arrays, multi-line strings).</summary>
    KeyValue,
}

/// <summary>
/// One statement of a TOML file as <see cref="TomlScanner"/> found it: whole lines, from
/// <see cref="Start"/> (the first line's first character) to <see cref="End"/> (after the last
/// line's terminator). <see cref="Key"/> is the header's or the pair's key, unquoted;
/// <see cref="Table"/> the table a pair belongs to (the last header before it; empty at the top).
/// </summary>
internal sealed record TomlStatement(
    TomlStatementKind Kind,
    int Line,
    int Start,
    int End,
    int Indent,
    IReadOnlyList<string> Key,
    IReadOnlyList<string> Table,
    TomlValue? Value,
    bool Blank)
{
    /// <summary>The pair's key from the document's root: its table's key, then its own (dotted) key.</summary>
    public IReadOnlyList<string> FullKey => Kind == TomlStatementKind.KeyValue ? [.. Table, .. Key] : Key;

    public bool IsHeader => Kind is TomlStatementKind.Table or TomlStatementKind.ArrayTable;
}
