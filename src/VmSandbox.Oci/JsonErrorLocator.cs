using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace VmSandbox.Oci;

/// <summary>
/// Turns a System.Text.Json shape error into Go-like words: the field, the type the spec wants
/// (from the source-generated metadata), the value found, and its 1-based line and byte. The
/// position comes from walking the input again to the error's JSON path, because the one in
/// <see cref="JsonException"/> often points past the value (the serializer reads ahead).
/// </summary>
internal static class JsonErrorLocator
{
    public static string Describe(JsonException e, ReadOnlySpan<byte> data, JsonTypeInfo root)
    {
        List<object> segments = ParsePath(e.Path ?? "$");
        string field = FieldName(segments);
        string expected = ExpectedType(root, segments);
        var reader = new Utf8JsonReader(data, new JsonReaderOptions { MaxDepth = 64 });
        if (!Seek(ref reader, segments))
        {
            return $"{field}: expected {expected}";
        }
        (long line, long column) = Position(data, reader.TokenStartIndex);
        string found = reader.TokenType switch
        {
            JsonTokenType.StartObject => "object",
            JsonTokenType.StartArray => "array",
            JsonTokenType.String => "string",
            JsonTokenType.Number => reader.ValueSpan.Length <= 24 ? Encoding.UTF8.GetString(reader.ValueSpan) : "number",
            JsonTokenType.True or JsonTokenType.False => "bool",
            JsonTokenType.Null => "null",
            _ => "value",
        };
        return $"{field}: expected {expected}, got {found} (line {line}, byte {column})";
    }

    /// <summary>"$.a.b[2]['x.y']" → ["a", "b", 2, "x.y"].</summary>
    private static List<object> ParsePath(string path)
    {
        var segments = new List<object>();
        int i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                int end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(path[(i + 1)..end]);
                i = end;
            }
            else if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                int end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? path.Length : end;
                segments.Add(path[(i + 2)..end]);
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                int end = path.IndexOf(']', i);
                end = end < 0 ? path.Length : end;
                segments.Add(int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1);
                i = end + 1;
            }
            else
            {
                break;
            }
        }
        return segments;
    }

    private static string FieldName(List<object> segments)
    {
        var sb = new StringBuilder();
        foreach (object s in segments)
        {
            if (s is int n)
            {
                sb.Append('[').Append(n).Append(']');
            }
            else
            {
                sb.Append(sb.Length > 0 ? "." : "").Append((string)s);
            }
        }
        return sb.Length > 0 ? sb.ToString() : "document";
    }

    private static string ExpectedType(JsonTypeInfo root, List<object> segments)
    {
        JsonTypeInfo? info = root;
        foreach (object s in segments)
        {
            Type? next = info switch
            {
                { Kind: JsonTypeInfoKind.Enumerable or JsonTypeInfoKind.Dictionary } => info.ElementType,
                { Kind: JsonTypeInfoKind.Object } when s is string name =>
                    info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.PropertyType,
                _ => null,
            };
            info = next is null ? null : root.Options.TryGetTypeInfo(next, out JsonTypeInfo? t) ? t : null;
            if (info is null)
            {
                return "a different value";
            }
        }
        return GoTypeName(info!);
    }

    /// <summary>The spec's (Go's) word for a type.</summary>
    private static string GoTypeName(JsonTypeInfo info)
    {
        Type t = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        return t == typeof(string) ? "string"
            : t == typeof(bool) ? "bool"
            : t == typeof(int) ? "int32"
            : t == typeof(long) ? "int64"
            : t == typeof(ushort) ? "uint16"
            : t == typeof(uint) ? "uint32"
            : t == typeof(ulong) ? "uint64"
            : info.Kind == JsonTypeInfoKind.Enumerable ? (info.ElementType == typeof(string) ? "array of strings" : "array")
            : "object";
    }

    /// <summary>Moves <paramref name="reader"/> to the start of the value at <paramref name="segments"/>.</summary>
    private static bool Seek(ref Utf8JsonReader reader, List<object> segments)
    {
        try
        {
            if (!reader.Read())
            {
                return false;
            }
            foreach (object s in segments)
            {
                if (s is string name && reader.TokenType == JsonTokenType.StartObject)
                {
                    bool found = false;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        bool match = string.Equals(reader.GetString(), name, StringComparison.OrdinalIgnoreCase);
                        reader.Read();
                        if (match)
                        {
                            found = true;
                            break;
                        }
                        reader.Skip();
                    }
                    if (!found)
                    {
                        return false;
                    }
                }
                else if (s is int index && reader.TokenType == JsonTokenType.StartArray)
                {
                    for (int i = 0; i <= index; i++)
                    {
                        if (i > 0)
                        {
                            reader.Skip();
                        }
                        if (!reader.Read() || reader.TokenType == JsonTokenType.EndArray)
                        {
                            return false;
                        }
                    }
                }
                else
                {
                    return false;
                }
            }
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>1-based line and byte-in-line of <paramref name="offset"/>.</summary>
    internal static (long Line, long Column) Position(ReadOnlySpan<byte> data, long offset)
    {
        ReadOnlySpan<byte> before = data[..(int)offset];
        int lastNewline = before.LastIndexOf((byte)'\n');
        return (before.Count((byte)'\n') + 1, offset - lastNewline);
    }
}
