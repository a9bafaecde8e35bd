using System.Globalization;
using System.Text;
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
internal sealed class TomlScanner
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

    private TomlValue ReadValue()
    {
        if (AtLineEnd())
        {
            throw Error(_line, "a key without a value");
        }
        return Peek() switch
        {
            '"' when Peek(1) == '"' && Peek(2) == '"' => new TomlString(ReadMultiLineString(literal: false)),
            '\'' when Peek(1) == '\'' && Peek(2) == '\'' => new TomlString(ReadMultiLineString(literal: true)),
            '"' => new TomlString(ReadBasicString()),
            '\'' => new TomlString(ReadLiteralString()),
            '[' => ReadArray(),
            '{' => ReadInlineTable(),
            _ => ReadScalar(),
        };
    }

    private TomlArray ReadArray()
    {
        int opened = _line;
        _pos++;
        var items = new List<TomlValue>();
        while (true)
        {
            SkipBlankLinesAndComments(opened);
            if (Peek() == ']')
            {
                _pos++;
                return new TomlArray(items);
            }
            items.Add(ReadValue());
            SkipBlankLinesAndComments(opened);
            if (Peek() == ',')
            {
                _pos++;
            }
            else if (Peek() != ']')
            {
                throw Error(_line, $"{Describe()} where \",\" or \"]\" should follow an item of the array opened on line {opened}");
            }
        }
    }

    private TomlInlineTable ReadInlineTable()
    {
        int opened = _line;
        _pos++;
        var pairs = new List<(IReadOnlyList<string>, TomlValue)>();
        SkipSpaces();
        if (Peek() == '}')
        {
            _pos++;
            return new TomlInlineTable(pairs);
        }
        while (true)
        {
            var key = new List<string>();
            if (!TryReadKey(key) || Peek() != '=')
            {
                throw AtLineEnd() ? Error(opened, "unterminated inline table") : Error(_line, $"{Describe()} in an inline table where a key = value should be");
            }
            _pos++;
            SkipSpaces();
            pairs.Add((key, ReadValue()));
            SkipSpaces();
            if (Peek() == '}')
            {
                _pos++;
                return new TomlInlineTable(pairs);
            }
            if (Peek() != ',')
            {
                throw AtLineEnd() ? Error(opened, "unterminated inline table") : Error(_line, $"{Describe()} where \",\" or \"}}\" should follow a value of the inline table");
            }
            _pos++;
        }
    }

    private TomlScalar ReadScalar()
    {
        int start = _pos;
        SkipScalarChars();
        // TOML 1.0: a space may separate a date from its time ("1979-05-27 07:32:00Z").
        if (_pos - start == 10 && _text[start + 4] == '-' && Peek() == ' ' && char.IsAsciiDigit(Peek(1)))
        {
            _pos++;
            SkipScalarChars();
        }
        if (_pos == start)
        {
            throw Error(_line, $"{Describe()} where a value should be");
        }
        return new TomlScalar(_text[start.._pos]);
    }

    private void SkipScalarChars()
    {
        while (char.IsAsciiLetterOrDigit(Peek()) || Peek() is '+' or '-' or '_' or '.' or ':')
        {
            _pos++;
        }
    }

    private string ReadBasicString()
    {
        int line = _line;
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (AtLineEnd())
            {
                throw Error(line, "unterminated string");
            }
            char c = _text[_pos];
            if (c == '"')
            {
                _pos++;
                return sb.ToString();
            }
            if (c == '\\')
            {
                AppendEscape(sb);
            }
            else
            {
                sb.Append(c);
                _pos++;
            }
        }
    }

    private string ReadLiteralString()
    {
        int line = _line;
        int start = ++_pos;
        while (Peek() != '\'')
        {
            if (AtLineEnd())
            {
                throw Error(line, "unterminated string");
            }
            _pos++;
        }
        string value = _text[start.._pos];
        _pos++;
        return value;
    }

    /// <summary>"""…""" or '''…''': a newline right after the opening quotes is not part of the value; in """ a backslash at the end of a line eats the line break and the blanks after it.</summary>
    private string ReadMultiLineString(bool literal)
    {
        int line = _line;
        char quote = literal ? '\'' : '"';
        _pos += 3;
        SkipLineBreak();
        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd)
            {
                throw Error(line, "unterminated multi-line string");
            }
            char c = _text[_pos];
            if (c == quote && Peek(1) == quote && Peek(2) == quote)
            {
                _pos += 3;
                // Up to two more quotes belong to the value: """a"""" is a".
                for (int extra = 0; extra < 2 && Peek() == quote; extra++, _pos++)
                {
                    sb.Append(quote);
                }
                return sb.ToString();
            }
            if (c == '\\' && !literal)
            {
                int after = _pos + 1;
                while (after < _text.Length && _text[after] is ' ' or '\t')
                {
                    after++;
                }
                if (after < _text.Length && (_text[after] == '\n' || (_text[after] == '\r' && after + 1 < _text.Length && _text[after + 1] == '\n')))
                {
                    _pos = after;
                    do
                    {
                        SkipSpaces();
                    }
                    while (SkipLineBreak());
                    continue;
                }
                AppendEscape(sb);
                continue;
            }
            if (!SkipLineBreak())
            {
                sb.Append(c);
                _pos++;
            }
            else
            {
                sb.Append('\n');
            }
        }
    }

    private void AppendEscape(StringBuilder sb)
    {
        int line = _line;
        char e = Peek(1);
        _pos += 2;
        switch (e)
        {
            case 'b': sb.Append('\b'); return;
            case 't': sb.Append('\t'); return;
            case 'n': sb.Append('\n'); return;
            case 'f': sb.Append('\f'); return;
            case 'r': sb.Append('\r'); return;
            case 'e': sb.Append('\u001b'); return;
            case '"': sb.Append('"'); return;
            case '\\': sb.Append('\\'); return;
            case 'x': sb.Append(HexCodePoint(2, line)); return;
            case 'u': sb.Append(HexCodePoint(4, line)); return;
            case 'U': sb.Append(HexCodePoint(8, line)); return;
            default: throw Error(line, $"invalid escape \"\\{e}\" in a string");
        }
    }

    private string HexCodePoint(int digits, int line)
    {
        if (_pos + digits > _text.Length
            || !int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)
            || code is < 0 or > 0x10FFFF or (>= 0xD800 and <= 0xDFFF))
        {
            throw Error(line, "invalid \\u escape in a string");
        }
        _pos += digits;
        return char.ConvertFromUtf32(code);
    }

    /// <summary>Spaces, comments and line breaks inside an array; the end of the file there is an unterminated array.</summary>
    private void SkipBlankLinesAndComments(int opened)
    {
        while (true)
        {
            SkipSpaces();
            if (Peek() == '#')
            {
                SkipToLineEnd();
            }
            if (AtEnd)
            {
                throw Error(opened, "unterminated array");
            }
            if (!SkipLineBreak())
            {
                return;
            }
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
