using VmSandbox.Common;

namespace VmSandbox.Cli;

/// <summary>
/// A verb's flags and positional arguments, parsed against a table of the flags it knows
/// (value flags and boolean flags), in any order, as runc's urfave/cli accepts them.
/// </summary>
public sealed class VerbArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _bools = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    /// <param name="valueFlags">Flags that take a value; aliases as "name|alias".</param>
    /// <param name="boolFlags">Boolean flags; aliases as "name|alias".</param>
    public static VerbArgs Parse(ArgReader reader, string verb, string[] valueFlags, string[] boolFlags)
    {
        var map = new Dictionary<string, (string Canonical, bool TakesValue)>(StringComparer.Ordinal);
        foreach (string spec in valueFlags)
        {
            string[] names = spec.Split('|');
            foreach (string n in names)
            {
                map[n] = (names[0], true);
            }
        }
        foreach (string spec in boolFlags)
        {
            string[] names = spec.Split('|');
            foreach (string n in names)
            {
                map[n] = (names[0], false);
            }
        }
        var args = new VerbArgs();
        bool flagsDone = false;
        while (!reader.AtEnd)
        {
            string arg = reader.Next();
            if (!flagsDone && arg == "--")
            {
                flagsDone = true;
                continue;
            }
            // runc compat (Go's flag package): flags stop at the first positional argument.
            if (flagsDone || !ArgReader.TryParseFlag(arg, out string name, out string? inline))
            {
                args.Positional.Add(arg);
                flagsDone = true;
                continue;
            }
            if (!map.TryGetValue(name, out var flag) && name is "h" or "help")
            {
                throw new HelpRequestedException(verb, [.. valueFlags.Select(f => (f, true)), .. boolFlags.Select(f => (f, false))]);
            }
            if (flag.Canonical is null)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"flag provided but not defined: -{name} (for {verb})");
            }
            if (flag.TakesValue)
            {
                string value = reader.TakeValue(name, inline);
                if (!args._values.TryGetValue(flag.Canonical, out List<string>? list))
                {
                    args._values[flag.Canonical] = list = [];
                }
                list.Add(value);
            }
            else if (ArgReader.ParseBool(name, inline))
            {
                args._bools.Add(flag.Canonical);
            }
            else
            {
                args._bools.Remove(flag.Canonical);
            }
        }
        return args;
    }

    public string? Value(string name) => _values.TryGetValue(name, out List<string>? v) ? v[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out List<string>? v) ? v : [];

    public bool Flag(string name) => _bools.Contains(name);

    /// <summary>Exactly one positional argument: the container ID.</summary>
    public string SingleId(string verb) => Positional.Count switch
    {
        1 => Positional[0],
        0 => throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: container id cannot be empty"),
        _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: expected exactly one container id, got {Positional.Count} arguments"),
    };

    /// <summary>The value of a flag the verb cannot do without.</summary>
    public string Required(string verb, string name) =>
        Value(name) ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: --{name} is required");
}

/// <summary>`VERB -h` / `VERB --help`: the verb's usage goes to stdout and the exit code is 0, as with runc.</summary>
public sealed class HelpRequestedException(string verb, IReadOnlyList<(string Spec, bool TakesValue)> flags) : Exception($"help for {verb}")
{
    public string Verb { get; } = verb;

    /// <summary>"name|alias" specs, and whether each takes a value.</summary>
    public IReadOnlyList<(string Spec, bool TakesValue)> Flags { get; } = flags;
}
