using VmSandbox.Common;

namespace VmSandbox.Shim;

/// <summary>
/// The command line containerd gives a shim (runtime/v2/shim/util.go `Command`), parsed as Go's
/// flag package does: single or double dash, <c>-k v</c> or <c>-k=v</c>, booleans without a
/// value, and the action (<c>start</c>, <c>delete</c>, none for the serving shim) after the flags.
/// </summary>
public sealed record ShimFlags
{
    public string Namespace { get; init; } = "";
    public string Id { get; init; } = "";
    /// <summary>containerd's gRPC socket (-address); TTRPC_ADDRESS in the environment is its ttrpc one.</summary>
    public string Address { get; init; } = "";
    public string PublishBinary { get; init; } = "";
    /// <summary>-bundle (delete only; start and the serving shim run in the bundle).</summary>
    public string? Bundle { get; init; }
    /// <summary>-socket: the serving shim's socket path, from `start`.</summary>
    public string? Socket { get; init; }
    /// <summary>-config: the runtime's config file from the CRI handler's options (ConfigPath).</summary>
    public string? ConfigPath { get; init; }
    public bool Debug { get; init; }
    public bool Version { get; init; }
    public string Action { get; init; } = "";

    private static readonly HashSet<string> s_booleans = ["debug", "v"];

    public static ShimFlags Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        for (; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                i++;
                break;
            }
            if (a.Length < 2 || a[0] != '-')
            {
                break;
            }
            string name = a.TrimStart('-');
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            if (!s_booleans.Contains(name) && !s_known.Contains(name))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"flag provided but not defined: -{name}");
            }
            if (value is null)
            {
                if (s_booleans.Contains(name))
                {
                    value = "true";
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    throw new VmSandboxException(ErrorCode.InvalidArgument, $"flag needs an argument: -{name}");
                }
            }
            values[name] = value;
        }
        string action = i < args.Count ? args[i] : "";
        if (i + 1 < args.Count)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"unexpected argument after {action}: {args[i + 1]}");
        }
        return new ShimFlags
        {
            Namespace = values.GetValueOrDefault("namespace", ""),
            Id = values.GetValueOrDefault("id", ""),
            Address = values.GetValueOrDefault("address", ""),
            PublishBinary = values.GetValueOrDefault("publish-binary", ""),
            Bundle = values.GetValueOrDefault("bundle"),
            Socket = values.GetValueOrDefault("socket"),
            ConfigPath = values.GetValueOrDefault("config"),
            Debug = values.GetValueOrDefault("debug") is "true" or "1",
            Version = values.GetValueOrDefault("v") is "true" or "1",
            Action = action,
        };
    }

    private static readonly HashSet<string> s_known = ["namespace", "id", "address", "publish-binary", "bundle", "socket", "config"];

    /// <summary>The flags the serving shim is started with (containerd's, plus the socket and config).</summary>
    public IReadOnlyList<string> ForServer(string socket)
    {
        List<string> a = ["-namespace", Namespace, "-id", Id, "-address", Address, "-publish-binary", PublishBinary, "-socket", socket];
        if (ConfigPath is not null)
        {
            a.AddRange(["-config", ConfigPath]);
        }
        if (Debug)
        {
            a.Add("-debug");
        }
        return a;
    }

    /// <summary>Namespace and ID are what every action needs; containerd always passes them.</summary>
    public void RequireTask()
    {
        if (Namespace.Length == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "shim namespace cannot be empty (-namespace)");
        }
        if (Id.Length == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "shim id cannot be empty (-id)");
        }
    }
}
