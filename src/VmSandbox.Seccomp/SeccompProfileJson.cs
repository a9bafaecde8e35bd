using System.Text.Json;
using VmSandbox.Common;

namespace VmSandbox.Seccomp;

/// <summary>
/// Reads a seccomp profile from JSON without reflection (NativeAOT): the OCI linux.seccomp
/// object, or a Docker profile file, whose "archMap" entries contribute their architecture and
/// subArchitectures. Docker's "includes"/"excludes" and "comment" are ignored: the runtime gets
/// the rules Docker already resolved for the container.
/// </summary>
public static class SeccompProfileJson
{
    public static SeccompProfile Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return ReadProfile(doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "parse seccomp profile", e);
        }
    }

    private static SeccompProfile ReadProfile(JsonElement root)
    {
        var arches = new List<string>();
        if (root.TryGetProperty("architectures", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
        {
            arches.AddRange(Strings(list));
        }
        if (root.TryGetProperty("archMap", out JsonElement map) && map.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement entry in map.EnumerateArray())
            {
                arches.Add(entry.GetProperty("architecture").GetString()!);
                if (entry.TryGetProperty("subArchitectures", out JsonElement subs) && subs.ValueKind == JsonValueKind.Array)
                {
                    arches.AddRange(Strings(subs));
                }
            }
        }
        var syscalls = new List<SeccompSyscall>();
        if (root.TryGetProperty("syscalls", out JsonElement calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement call in calls.EnumerateArray())
            {
                syscalls.Add(ReadSyscall(call));
            }
        }
        return new SeccompProfile
        {
            DefaultAction = root.GetProperty("defaultAction").GetString()!,
            DefaultErrnoRet = OptionalUInt(root, "defaultErrnoRet"),
            Architectures = arches.Distinct(StringComparer.Ordinal).ToArray(),
            Flags = root.TryGetProperty("flags", out JsonElement flags) && flags.ValueKind == JsonValueKind.Array ? Strings(flags) : [],
            Syscalls = syscalls,
        };
    }

    private static SeccompSyscall ReadSyscall(JsonElement call)
    {
        var names = new List<string>();
        if (call.TryGetProperty("names", out JsonElement n) && n.ValueKind == JsonValueKind.Array)
        {
            names.AddRange(Strings(n));
        }
        // Docker before 1.12 wrote one "name".
        if (call.TryGetProperty("name", out JsonElement one) && one.ValueKind == JsonValueKind.String)
        {
            names.Add(one.GetString()!);
        }
        var args = new List<SeccompArg>();
        if (call.TryGetProperty("args", out JsonElement a) && a.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement arg in a.EnumerateArray())
            {
                args.Add(new SeccompArg
                {
                    Index = arg.GetProperty("index").GetUInt32(),
                    Value = arg.TryGetProperty("value", out JsonElement v) ? v.GetUInt64() : 0,
                    ValueTwo = arg.TryGetProperty("valueTwo", out JsonElement v2) ? v2.GetUInt64() : 0,
                    Op = arg.GetProperty("op").GetString()!,
                });
            }
        }
        return new SeccompSyscall
        {
            Names = names,
            Action = call.GetProperty("action").GetString()!,
            ErrnoRet = OptionalUInt(call, "errnoRet"),
            Args = args,
        };
    }

    private static uint? OptionalUInt(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetUInt32() : null;

    private static string[] Strings(JsonElement array) =>
        array.EnumerateArray().Select(s => s.GetString()!).ToArray();
}
