using VmSandbox.Common;

namespace VmSandbox.Install.Containerd;

/// <summary>
/// Splits a TOML document into its statements (<see cref="TomlStatement"/>), whole lines each,
/// without building a tree, so that an edit can cut and insert lines and leave every other byte
/// as it was. It reads what TOML 1.0 allows where that decides where a statement ends: table
/// headers with quoted and dotted keys, comments, the four kinds of strings (multi-line ones
/// too, with their escapes), and arrays and inline tables over several lines. Other scalars
/// (numbers, booleans, dates) are kept as written. What it cannot place is refused, naming the
/// line; it does not check what TOML leaves to the reader (duplicate keys, value types).
/// </summary>
internal sealed partial class TomlScanner
{
    private readonly string _text;
    private int _pos;
    private int _line = 1;

    private TomlScanner(string text)
    {
        _text = text;
    }

    public static IReadOnlyList<TomlStatement> Scan(string text) => new TomlScanner(text).ScanAll();

    private List<TomlStatement> ScanAll()
    {
        var statements = new List<TomlStatement>();
        IReadOnlyList<string> table = [];
        if (_text.StartsWith('\uFEFF'))
        {
            _pos = 1; // a byte order mark stays where it is, as part of the first line
        }
        while (_pos < _text.Length)
        {
            int start = statements.Count == 0 ? 0 : _pos;
            int line = _line;
            int lineStart = _pos;
            SkipSpaces();
            int indent = _pos - lineStart;
            if (AtLineEnd() || Peek() == '#')
            {
                bool blank = Peek() != '#';
                EndLine("");
                statements.Add(new(TomlStatementKind.Trivia, line, start, _pos, indent, [], table, null, blank));
            }
            else if (Peek() == '[')
            {
                (TomlStatementKind kind, List<string> key) = ReadHeader(line);
                table = key;
                statements.Add(new(kind, line, start, _pos, indent, key, key, null, false));
            }
            else
            {
                (List<string> key, TomlValue value) = ReadPair();
                statements.Add(new(TomlStatementKind.KeyValue, line, start, _pos, indent, key, table, value, false));
            }
        }
        return statements;
    }

    private (TomlStatementKind, List<string>) ReadHeader(int line)
    {
        _pos++;
        bool array = Peek() == '[';
        if (array)
        {
            _pos++;
        }
        var key = new List<string>();
        if (!TryReadKey(key))
        {
            throw AtLineEnd() ? Error(line, "unterminated table header") : Error(line, $"malformed table header: {Describe()} where a key should be");
        }
        for (int close = array ? 2 : 1; close > 0; close--, _pos++)
        {
            if (Peek() != ']')
            {
                throw AtLineEnd() ? Error(line, "unterminated table header") : Error(line, $"malformed table header: {Describe()} after the key");
            }
        }
        EndLine("the table header");
        return (array ? TomlStatementKind.ArrayTable : TomlStatementKind.Table, key);
    }

    private (List<string>, TomlValue) ReadPair()
    {
        var key = new List<string>();
        if (!TryReadKey(key))
        {
            throw Error(_line, $"{Describe()} is not a key, a [table] or a comment");
        }
        if (Peek() != '=')
        {
            throw Error(_line, $"{Describe()} where \"=\" should follow the key {string.Join('.', key.Select(k => TomlValue.Key(k)))}");
        }
        _pos++;
        SkipSpaces();
        TomlValue value = ReadValue();
        EndLine("the value");
        return (key, value);
    }

    /// <summary>Reads a dotted key (spaces allowed around the dots) and the spaces after it; false when no key starts here.</summary>
    private bool TryReadKey(List<string> parts)
    {
        while (true)
        {
            SkipSpaces();
            char c = Peek();
            if (c == '"')
            {
                parts.Add(ReadBasicString());
            }
            else if (c == '\'')
            {
                parts.Add(ReadLiteralString());
            }
            else if (TomlValue.IsBareKeyChar(c))
            {
                int start = _pos;
                while (TomlValue.IsBareKeyChar(Peek()))
                {
                    _pos++;
                }
                parts.Add(_text[start.._pos]);
            }
            else
            {
                return false;
            }
            SkipSpaces();
            if (Peek() != '.')
            {
                return true;
            }
            _pos++;
        }
    }

    /// <summary>Ends a statement: spaces, an optional comment, then a line break or the end of the file.</summary>
    private void EndLine(string after)
    {
        SkipSpaces();
        if (Peek() == '#')
        {
            SkipToLineEnd();
        }
        if (!AtEnd && !SkipLineBreak())
        {
            throw Error(_line, $"{Describe()} after {after}");
        }
    }

    private bool SkipLineBreak()
    {
        if (Peek() == '\n')
        {
            _pos++;
        }
        else if (Peek() == '\r' && Peek(1) == '\n')
        {
            _pos += 2;
        }
        else
        {
            return false;
        }
        _line++;
        return true;
    }

    private void SkipToLineEnd()
    {
        while (!AtLineEnd())
        {
            _pos++;
        }
    }

    private void SkipSpaces()
    {
        while (Peek() is ' ' or '\t')
        {
            _pos++;
        }
    }

    private bool AtEnd => _pos >= _text.Length;

    private bool AtLineEnd() => AtEnd || Peek() == '\n' || (Peek() == '\r' && Peek(1) == '\n');

    private char Peek(int ahead = 0) => _pos + ahead < _text.Length ? _text[_pos + ahead] : '\0';

    private string Describe()
    {
        if (AtLineEnd())
        {
            return "the end of the line";
        }
        int end = _pos;
        while (end < _text.Length && end - _pos < 24 && _text[end] is not ('\n' or '\r'))
        {
            end++;
        }
        return "\"" + _text[_pos..end] + "\"";
    }

    private static VmSandboxException Error(int line, string message) =>
        new(ErrorCode.Config, $"line {line}: {message}, left unchanged");
}
