using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using VmSandbox.Common;

namespace VmSandbox.Install.Docker;

/// <summary>
/// Registers vmsandbox with Docker by editing daemon.json: <c>install</c> merges
/// <c>{"runtimes":{"NAME":{"path":"BIN"}}}</c> and <c>uninstall</c> removes that entry (and a
/// <c>runtimes</c> object left empty). Every other key, runtime and value is kept as it was (JsonNode
/// keeps key order and the text of numbers). A file that does not parse is refused and left
/// untouched. Before a change the old file is copied to <c>daemon.json.vmsandbox.bak</c>, and the
/// new one is written to a temporary file and renamed over it. Collaborator: <see cref="IDockerReloader"/>.
/// </summary>
public sealed class DockerDaemonConfig
{
    public const string DefaultPath = "/etc/docker/daemon.json";
    public const string DefaultRuntimeName = "vmsandbox";

    private static readonly JsonDocumentOptions s_parse = new()
    {
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        AllowDuplicateProperties = false,
    };

    public DockerDaemonConfig(string path = DefaultPath)
    {
        Path = path;
    }

    /// <summary>The daemon.json this instance edits.</summary>
    public string Path { get; }

    /// <summary>Where the file as it was before our last change is kept.</summary>
    public string BackupPath => Target + ".vmsandbox.bak";

    // A symlinked daemon.json is edited where it points, so that the rename keeps the link.
    private string Target => ConfigFile.Target(Path);

    /// <summary>Adds or updates runtime <paramref name="name"/> with <paramref name="binaryPath"/>; other fields of that entry are kept.</summary>
    public DaemonConfigChange AddRuntime(string name, string binaryPath)
    {
        ValidateName(name);
        if (!System.IO.Path.IsPathFullyQualified(binaryPath))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"runtime path \"{binaryPath}\" is not absolute");
        }
        return Edit(root => AddRuntime(root, name, binaryPath));
    }

    /// <summary>Removes runtime <paramref name="name"/>, and the runtimes object when it ends up empty.</summary>
    public DaemonConfigChange RemoveRuntime(string name)
    {
        ValidateName(name);
        return Edit(root => RemoveRuntime(root, name));
    }

    /// <summary>The pure merge: false when the document already registers <paramref name="binaryPath"/>.</summary>
    internal static bool AddRuntime(JsonObject root, string name, string binaryPath)
    {
        JsonObject runtimes = ObjectAt(root, "runtimes", "runtimes") ?? AddObject(root, "runtimes");
        JsonObject entry = ObjectAt(runtimes, name, $"runtimes.{name}") ?? AddObject(runtimes, name);
        if (entry["path"] is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == binaryPath)
        {
            return false;
        }
        entry["path"] = binaryPath;
        return true;
    }

    /// <summary>The pure removal: false when the document has no such runtime.</summary>
    internal static bool RemoveRuntime(JsonObject root, string name)
    {
        if (root["default-runtime"] is JsonValue d && d.GetValueKind() == JsonValueKind.String && d.GetValue<string>() == name)
        {
            // dockerd refuses to start with a default runtime it does not know.
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"default-runtime is \"{name}\", left unchanged")
            {
                Hint = "set default-runtime to runc in daemon.json first",
            };
        }
        if (ObjectAt(root, "runtimes", "runtimes") is not { } runtimes || !runtimes.ContainsKey(name))
        {
            return false;
        }
        runtimes.Remove(name);
        if (runtimes.Count == 0)
        {
            root.Remove("runtimes");
        }
        return true;
    }

    /// <summary>daemon.json as dockerd's own tooling writes it: two-space indent, readable non-ASCII, a final newline.</summary>
    internal static string Format(JsonObject root)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            root.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Parses daemon.json text; empty or blank text is an empty object (as dockerd reads it).</summary>
    internal static JsonObject Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: s_parse);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is { } line ? $" at line {line + 1}, byte {(e.BytePositionInLine ?? 0) + 1}" : "";
            throw new VmSandboxException(ErrorCode.Config, $"malformed json{where}, left unchanged");
        }
        return node as JsonObject
            ?? throw new VmSandboxException(ErrorCode.Config, "the top level is not a json object, left unchanged");
    }

    private DaemonConfigChange Edit(Func<JsonObject, bool> change)
    {
        string target = Target;
        bool exists = File.Exists(target);
        JsonObject root;
        try
        {
            root = Parse(exists ? File.ReadAllText(target) : "");
            if (!change(root))
            {
                return new DaemonConfigChange(false, false, null);
            }
        }
        catch (VmSandboxException e)
        {
            throw new VmSandboxException(e.Code, target, e) { Hint = e.Hint ?? $"fix {target} or move it away" };
        }
        string? backup = null;
        if (exists)
        {
            backup = BackupPath;
            File.Copy(target, backup, overwrite: true);
        }
        ConfigFile.WriteAtomically(target, Format(root), exists ? File.GetUnixFileMode(target) : ConfigFile.DefaultMode);
        return new DaemonConfigChange(true, !exists, backup);
    }

    private static JsonObject? ObjectAt(JsonObject parent, string key, string where) => parent[key] switch
    {
        null => null,
        JsonObject o => o,
        _ => throw new VmSandboxException(ErrorCode.Config, $"{where} is not a json object, left unchanged"),
    };

    private static JsonObject AddObject(JsonObject parent, string key)
    {
        var o = new JsonObject();
        parent[key] = o;
        return o;
    }

    private static void ValidateName(string name)
    {
        bool ok = name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
        if (!ok)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"runtime name \"{name}\" must be 1-128 of A-Z a-z 0-9 . _ -");
        }
        if (name is "runc" or "io.containerd.runc.v2" or "io.containerd.runtime.v1.linux")
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"runtime name \"{name}\" is reserved by docker");
        }
    }
}
