using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using VmSandbox.Common;

namespace VmSandbox.Oci;

/// <summary>
/// Reads and writes OCI JSON documents with the source-generated <see cref="OciJsonContext"/>.
/// Every failure becomes a one-line <see cref="VmSandboxException"/> naming the file, the
/// field and the line/byte position (1-based), never a raw <see cref="JsonException"/>.
/// </summary>
public static class OciJson
{
    /// <summary>Refuse absurd input: Docker's largest configs (big seccomp profiles) are ~50 KiB.</summary>
    public const int MaxFileSize = 16 * 1024 * 1024;

    // Go's encoding/json writes non-ASCII as is; the default .NET encoder would escape '+' and more.
    private static readonly JavaScriptEncoder s_encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>Writes <paramref name="value"/> indented with <paramref name="indent"/> (one char repeated), or compact when null.</summary>
    internal static string Serialize<T>(T value, JsonTypeInfo<T> info, char? indent = null, int indentSize = 1)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Encoder = s_encoder,
            Indented = indent is not null,
            IndentCharacter = indent ?? ' ',
            IndentSize = indent is null ? 2 : indentSize,
            SkipValidation = false,
        }))
        {
            JsonSerializer.Serialize(writer, value, info);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Reads a whole JSON file of at most <see cref="MaxFileSize"/> bytes.</summary>
    internal static byte[] ReadFile(string path)
    {
        if (Directory.Exists(path))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"read {path}: is a directory");
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
            // Read at most one byte past the limit: a FIFO or /dev/zero has no trustworthy length.
            var data = new byte[Math.Min(stream.CanSeek ? stream.Length + 1 : 65536, MaxFileSize + 1L)];
            int total = 0;
            while (true)
            {
                if (total == data.Length)
                {
                    if (data.Length > MaxFileSize)
                    {
                        throw new VmSandboxException(ErrorCode.InvalidArgument,
                            $"read {path}: file is larger than {MaxFileSize / (1024 * 1024)} MiB");
                    }
                    Array.Resize(ref data, (int)Math.Min(data.Length * 2L, MaxFileSize + 1L));
                }
                int n = stream.Read(data, total, data.Length - total);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            Array.Resize(ref data, total);
            return data;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // runc compat: "open <bundle>/config.json: no such file or directory".
            throw new VmSandboxException(ErrorCode.NotFound, $"open {path}: no such file or directory");
        }
        catch (UnauthorizedAccessException)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"open {path}: permission denied");
        }
        catch (IOException e)
        {
            throw new VmSandboxException(ErrorCode.System, $"read {path}", e);
        }
    }

    /// <summary>Parses <paramref name="data"/>; <paramref name="source"/> names it in errors.</summary>
    internal static T Parse<T>(ReadOnlySpan<byte> data, JsonTypeInfo<T> info, string source)
        where T : class
    {
        CheckSyntax(data, source);
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(data, info);
        }
        catch (JsonException e)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, MessageText.OneLine($"{source}: {JsonErrorLocator.Describe(e, data, info)}"));
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException or FormatException or OverflowException)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"{source}: invalid document", e);
        }
        return value ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{source}: expected an object, got null");
    }

    /// <summary>First pass: syntax only, so that shape errors below always carry a JSON path.</summary>
    private static void CheckSyntax(ReadOnlySpan<byte> data, string source)
    {
        var reader = new Utf8JsonReader(data, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            // Go decodes a null array element as a zero value; nothing in the spec wants one, and
            // the generated deserializer would hand it on as a null the records say cannot exist.
            var inArray = new Stack<bool>();
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartArray or JsonTokenType.StartObject:
                        inArray.Push(reader.TokenType == JsonTokenType.StartArray);
                        break;
                    case JsonTokenType.EndArray or JsonTokenType.EndObject:
                        inArray.Pop();
                        break;
                    case JsonTokenType.String or JsonTokenType.PropertyName when !IsValidString(ref reader):
                        (long l, long b) = JsonErrorLocator.Position(data, reader.TokenStartIndex);
                        throw new VmSandboxException(ErrorCode.InvalidArgument,
                            $"{source}: invalid json at line {l}, byte {b}: string is not valid utf-8 or utf-16");
                    case JsonTokenType.Null when inArray.TryPeek(out bool array) && array:
                        (long line, long column) = JsonErrorLocator.Position(data, reader.TokenStartIndex);
                        throw new VmSandboxException(ErrorCode.InvalidArgument,
                            $"{source}: null is not allowed in an array (line {line}, byte {column})");
                }
            }
            if (reader.BytesConsumed == 0)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"{source}: empty document");
            }
        }
        catch (JsonException e)
        {
            if (data.Trim(" \t\r\n"u8).IsEmpty)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"{source}: empty document");
            }
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                MessageText.OneLine($"{source}: invalid json at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {Reason(e.Message)}"));
        }
    }

    // The reader checks structure only; invalid UTF-8 or a lone surrogate escape fails on decoding.
    private static bool IsValidString(ref Utf8JsonReader reader)
    {
        try
        {
            _ = reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Reason(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        int path = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (path >= 0 && (cut < 0 || path < cut))
        {
            cut = path;
        }
        string reason = (cut >= 0 ? message[..cut] : message).Trim().TrimEnd('.');
        return reason.Length > 0 ? char.ToLowerInvariant(reason[0]) + reason[1..] : "syntax error";
    }
}
