using VmSandbox.Common;

namespace VmSandbox.Install.Containerd;

/// <summary>What an edit of config.toml's text gives: the new text (null when nothing needs to change), whether a different table of that name was replaced, whether <c>version = 2</c> was added, and warnings to show.</summary>
internal sealed record ContainerdEdit(string? NewText, bool Replaced, bool VersionAdded, IReadOnlyList<string> Warnings);

/// <summary>
/// The pure edits behind <c>install</c>/<c>uninstall --containerd</c> on config.toml's text: add,
/// replace or remove one CRI runtime handler table and its sub-tables by cutting and inserting
/// whole lines (<see cref="TomlDocument"/>), so every other byte stays as it was. A new table goes
/// after the last table that shares the longest part of its key (beside the other runtimes,
/// else after the CRI plugin's tables, else at the end), indented as the file indents its
/// headers, and uninstall takes out exactly what install put in. Text whose meaning a line edit
/// could not keep is refused with the line: the table defined twice, or defined by dotted keys
/// or an inline table, or a config version other than 2 and 3.
/// </summary>
internal static class ContainerdConfigText
{
    private const string Marker = "# added by vmsandbox install --containerd; vmsandbox uninstall --containerd takes it out";

    public static ContainerdEdit Add(string text, CriRuntimeHandler handler)
    {
        (string body, string nl, bool finalNewline) = Normalize(text);
        var doc = TomlDocument.Parse(body);
        CriConfigLayout? layout = Layout(doc);
        bool versionAdded = layout is null;
        if (layout is null)
        {
            // Nothing but comments: version 2 changes no meaning, and containerd then reads the handler.
            doc = TomlDocument.Parse("version = 2" + nl + body);
            layout = CriConfigLayout.For(2)!;
        }
        IReadOnlyList<string> ours = layout.Runtime(handler.Name);
        CheckEditable(doc, ours);
        List<string> warnings = Warnings(doc, layout);
        Style style = Style.Of(doc, nl);
        string block = Render(handler, layout, style);
        List<int> tables = [.. doc.TablesUnder(ours)];
        if (tables.Count > 0 && Contents(doc, ours).SequenceEqual(Contents(TomlDocument.Parse(block), ours)))
        {
            return new ContainerdEdit(null, false, false, warnings);
        }
        string result = tables.Count == 0 ? Insert(doc, ours, block, style) : Replace(doc, ours, tables, block, style);
        return new ContainerdEdit(Restore(result, finalNewline, nl), tables.Count > 0, versionAdded, warnings);
    }

    public static ContainerdEdit Remove(string text, string name)
    {
        (string body, string nl, bool finalNewline) = Normalize(text);
        var doc = TomlDocument.Parse(body);
        // install never writes a version 1 file (or one without a version line).
        if (doc.TopLevel("version")?.Value is not TomlScalar { Integer: long version } || CriConfigLayout.For(version) is not { } layout)
        {
            return new ContainerdEdit(null, false, false, []);
        }
        IReadOnlyList<string> ours = layout.Runtime(name);
        CheckEditable(doc, ours);
        List<int> tables = [.. doc.TablesUnder(ours)];
        if (tables.Count == 0)
        {
            return new ContainerdEdit(null, false, false, []);
        }
        if (Pair(doc, [.. layout.Containerd, "default_runtime_name"]) is { Value: TomlString { Value: var d } } def && d == name)
        {
            // containerd's CRI plugin does not load with a default runtime it has no table for.
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"line {def.Line}: default_runtime_name is \"{name}\", left unchanged")
            {
                Hint = "set default_runtime_name back to runc first",
            };
        }
        if (Pair(doc, [.. ours, "runtime_type"]) is { Value: TomlString { Value: var type } } t && type != CriRuntimeHandler.RuntimeType)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"line {t.Line}: runtime handler {name} has runtime_type \"{type}\", not vmsandbox's, left unchanged")
            {
                Hint = "name vmsandbox's handler with --runtime-name",
            };
        }
        string result = Apply(doc.Text, tables.Select(i => (doc.TableSpan(i, withBlankBefore: true), "")));
        return new ContainerdEdit(Restore(result, finalNewline, nl), false, false, []);
    }

    /// <summary>The layout for the file's version; null for a file of only comments and blank lines, which has none.</summary>
    private static CriConfigLayout? Layout(TomlDocument doc)
    {
        TomlStatement? v = doc.TopLevel("version");
        if (v is null)
        {
            return doc.LastContent() < 0 ? null : throw VersionOne("no version line, which containerd 1.x reads as config version 1");
        }
        if (v.Value is not TomlScalar { Integer: long version })
        {
            throw new VmSandboxException(ErrorCode.Config, $"line {v.Line}: version is not a number, left unchanged");
        }
        return CriConfigLayout.For(version)
            ?? throw (version == 1
                ? VersionOne($"line {v.Line}: config version 1")
                : new VmSandboxException(ErrorCode.Config, $"line {v.Line}: config version {version} is neither 2 (containerd 1.x) nor 3 (containerd 2.x), left unchanged"));
    }

    private static VmSandboxException VersionOne(string what) => new(ErrorCode.Config,
        $"{what}, but a CRI runtime handler needs version = 2 (version 1 names the plugin plugins.cri), left unchanged")
    {
        Hint = "convert the file to version 2 (containerd config default prints one) and run this again",
    };

    private static void CheckEditable(TomlDocument doc, IReadOnlyList<string> ours)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (TomlStatement s in doc.Statements)
        {
            switch (s.Kind)
            {
                case TomlStatementKind.Table:
                    if (!seen.TryAdd(string.Join('\0', s.Key), s.Line))
                    {
                        throw new VmSandboxException(ErrorCode.Config,
                            $"line {s.Line}: table [{TomlDocument.Render(s.Key)}] is defined twice (first on line {seen[string.Join('\0', s.Key)]}), left unchanged");
                    }
                    break;
                case TomlStatementKind.ArrayTable when Overlaps(s.Key, ours):
                    throw new VmSandboxException(ErrorCode.Config,
                        $"line {s.Line}: [[{TomlDocument.Render(s.Key)}]] is an array of tables where containerd expects a table, left unchanged");
                case TomlStatementKind.KeyValue when !TomlDocument.StartsWith(s.Table, ours) && Overlaps(s.FullKey, ours):
                    throw new VmSandboxException(ErrorCode.Config,
                        $"line {s.Line}: {TomlDocument.Render(s.FullKey)} is set by a dotted key or an inline table, and install edits only [table] sections, left unchanged")
                    {
                        Hint = $"write {TomlDocument.Render(ours)} as [table] sections, or take it out",
                    };
            }
        }
    }

    private static bool Overlaps(IReadOnlyList<string> a, IReadOnlyList<string> b) => TomlDocument.StartsWith(a, b) || TomlDocument.StartsWith(b, a);

    private static List<string> Warnings(TomlDocument doc, CriConfigLayout layout)
    {
        var warnings = new List<string>();
        if (doc.TopLevel("disabled_plugins") is { Value: TomlArray disabled } d)
        {
            foreach (TomlString id in disabled.Items.OfType<TomlString>().Where(i => layout.CriPluginIds.Contains(i.Value)))
            {
                warnings.Add($"disabled_plugins (line {d.Line}) turns off containerd's CRI plugin {id.Value}: Kubernetes cannot use the handler until it is taken out of that list");
            }
        }
        return warnings;
    }

    /// <summary>The pair at <paramref name="fullKey"/>, however it is spelled (header and key, or dotted).</summary>
    private static TomlStatement? Pair(TomlDocument doc, IReadOnlyList<string> fullKey) =>
        doc.Statements.LastOrDefault(s => s.Kind == TomlStatementKind.KeyValue && s.FullKey.SequenceEqual(fullKey, StringComparer.Ordinal));

    /// <summary>The table's headers and pairs below <paramref name="ours"/>, as keys and canonical values, sorted: equal when TOML reads the same.</summary>
    private static List<string> Contents(TomlDocument doc, IReadOnlyList<string> ours) => [.. doc.Statements
        .Where(s => (s.Kind is TomlStatementKind.Table or TomlStatementKind.KeyValue) && TomlDocument.StartsWith(s.FullKey, ours))
        .Select(s => s.Kind == TomlStatementKind.Table
            ? $"[{TomlDocument.Render(s.Key.Skip(ours.Count))}]"
            : $"{TomlDocument.Render(s.FullKey.Skip(ours.Count))}={s.Value!.Canonical}")
        .Order(StringComparer.Ordinal)];

    private static string Insert(TomlDocument doc, IReadOnlyList<string> ours, string block, Style style)
    {
        int after = -1;
        for (int n = ours.Count - 1; n >= 1 && after < 0; n--)
        {
            IReadOnlyList<string> prefix = [.. ours.Take(n)];
            int header = -1;
            for (int i = 0; i < doc.Statements.Count; i++)
            {
                if (doc.Statements[i].IsHeader && TomlDocument.StartsWith(doc.Statements[i].Key, prefix))
                {
                    header = i;
                }
            }
            if (header >= 0)
            {
                after = doc.LastContent(header);
            }
        }
        if (after < 0)
        {
            after = doc.LastContent();
        }
        int at = after >= 0 ? doc.Statements[after].End : doc.Text.Length;
        // TableSpan takes this blank line out again.
        string separator = style.BlankLines && after >= 0 ? style.NewLine : "";
        return doc.Text.Insert(at, separator + block);
    }

    /// <summary>The main table is rewritten where it is; sub-tables elsewhere are taken out. Without a main table the block goes in as new.</summary>
    private static string Replace(TomlDocument doc, IReadOnlyList<string> ours, List<int> tables, string block, Style style)
    {
        int main = tables.FirstOrDefault(i => doc.Statements[i].Key.Count == ours.Count, -1);
        string text = Apply(doc.Text, tables.Select(i => i == main
            ? (doc.TableSpan(i, withBlankBefore: false), block)
            : (doc.TableSpan(i, withBlankBefore: true), "")));
        return main >= 0 ? text : Insert(TomlDocument.Parse(text), ours, block, style);
    }

    private static string Apply(string text, IEnumerable<((int Start, int End) Span, string Text)> edits)
    {
        foreach (((int start, int end), string replacement) in edits.OrderByDescending(e => e.Span.Start))
        {
            text = string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(end));
        }
        return text;
    }

    private static string Render(CriRuntimeHandler handler, CriConfigLayout layout, Style style)
    {
        IReadOnlyList<string> main = layout.Runtime(handler.Name);
        var lines = new List<string>();
        AddTable(lines, main, style, layout.LiteralQuotes,
        [
            Marker,
            $"runtime_type = {TomlValue.Quote(CriRuntimeHandler.RuntimeType)}",
            $"runtime_path = {TomlValue.Quote(handler.ShimPath)}",
            $"pod_annotations = [{TomlValue.Quote(CriRuntimeHandler.PodAnnotations)}]",
        ]);
        if (handler.ConfigPath is { } configPath)
        {
            if (style.BlankLines)
            {
                lines.Add("");
            }
            // CRI passes this table to a non-runc shim as runtimeoptions.v1.Options (protocols.md §5.2).
            AddTable(lines, [.. main, "options"], style, layout.LiteralQuotes, [$"ConfigPath = {TomlValue.Quote(configPath)}"]);
        }
        return string.Join(style.NewLine, lines) + style.NewLine;
    }

    /// <summary>Indented files indent a header two spaces per level below the top, as <c>containerd config default</c> does; pairs two more.</summary>
    private static void AddTable(List<string> lines, IReadOnlyList<string> key, Style style, bool literal, IEnumerable<string> body)
    {
        string pad = style.Indented ? new string(' ', 2 * (key.Count - 1)) : "";
        lines.Add($"{pad}[{TomlDocument.Render(key, literal)}]");
        lines.AddRange(body.Select(b => $"{pad}  {b}"));
    }

    /// <summary>The file's line break (the first one's), and the text with a final one, which <see cref="Restore"/> takes off again.</summary>
    private static (string Text, string NewLine, bool FinalNewline) Normalize(string text)
    {
        int lf = text.IndexOf('\n', StringComparison.Ordinal);
        string nl = lf > 0 && text[lf - 1] == '\r' ? "\r\n" : "\n";
        bool finalNewline = text.Length == 0 || text.EndsWith('\n');
        return (finalNewline ? text : text + nl, nl, finalNewline);
    }

    private static string Restore(string text, bool finalNewline, string nl) =>
        !finalNewline && text.EndsWith(nl, StringComparison.Ordinal) ? text[..^nl.Length] : text;

    /// <summary>
    /// How the file lays out its tables, for ours to match: headers indented by their depth
    /// (<c>containerd config default</c>, Debian's file) or not, and a blank line before each
    /// header or not (most headers after the first have one; a new file does), and its line break.
    /// </summary>
    private sealed record Style(bool Indented, bool BlankLines, string NewLine)
    {
        public static Style Of(TomlDocument doc, string nl)
        {
            IReadOnlyList<TomlStatement> s = doc.Statements;
            List<int> headers = [.. Enumerable.Range(1, Math.Max(0, s.Count - 1)).Where(i => s[i].IsHeader)];
            int blankBefore = headers.Count(i => s[i - 1].Blank);
            return new Style(s.Any(x => x.IsHeader && x.Indent > 0), headers.Count == 0 || 2 * blankBefore >= headers.Count, nl);
        }
    }
}
