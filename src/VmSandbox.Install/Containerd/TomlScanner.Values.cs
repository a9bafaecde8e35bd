using System.Globalization;
using System.Text;

namespace VmSandbox.Install.Containerd;

/// <summary>The values: strings of the four kinds with their escapes, arrays and inline tables over lines, scalars as written.</summary>
internal sealed partial class TomlScanner
{
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
}
