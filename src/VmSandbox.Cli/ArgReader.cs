using VmSandbox.Common;

namespace VmSandbox.Cli;

/// <summary>
/// Reads runc-style arguments: long flags with one or two dashes, "--flag value" and
/// "--flag=value", boolean flags, and positional arguments (go-runc passes all of these forms).
/// </summary>
public sealed class ArgReader
{
    private readonly List<string> _args;
    private int _pos;

    public ArgReader(IEnumerable<string> args)
    {
        _args = [.. args];
    }

    public bool AtEnd => _pos >= _args.Count;

    public string? Peek() => AtEnd ? null : _args[_pos];

    public string Next() => _args[_pos++];

    /// <summary>Splits the current argument into flag name (without dashes) and inline value, if it is a flag.</summary>
    public static bool TryParseFlag(string arg, out string name, out string? inlineValue)
    {
        name = "";
        inlineValue = null;
        if (arg.Length < 2 || arg[0] != '-' || arg == "--")
        {
            return false;
        }
        string body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
        int eq = body.IndexOf('=', StringComparison.Ordinal);
        if (eq >= 0)
        {
            inlineValue = body[(eq + 1)..];
            body = body[..eq];
        }
        name = body;
        return name.Length > 0;
    }

    /// <summary>The value of a flag that takes one: inline, or the next argument.</summary>
    public string TakeValue(string flag, string? inlineValue)
    {
        if (inlineValue is not null)
        {
            return inlineValue;
        }
        if (AtEnd)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"flag --{flag} needs a value");
        }
        return Next();
    }

    /// <summary>Parses "true"/"false" of a boolean flag given as --flag=value.</summary>
    public static bool ParseBool(string flag, string? inlineValue) => inlineValue switch
    {
        null or "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"flag --{flag}: \"{inlineValue}\" is not a boolean"),
    };
}
