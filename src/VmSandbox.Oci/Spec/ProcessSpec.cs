using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>
/// config.json's <c>process</c>, also the whole document of <c>exec --process FILE</c>
/// (loaded by <see cref="ProcessLoader"/>).
/// </summary>
public sealed record ProcessSpec
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Terminal { get; init; }

    public Box? ConsoleSize { get; init; }

    public User User { get; set; } = new();

    public IReadOnlyList<string>? Args { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public string Cwd { get; set; } = "";

    public LinuxCapabilities? Capabilities { get; init; }

    public IReadOnlyList<Rlimit>? Rlimits { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; init; }

    public string? ApparmorProfile { get; init; }

    public int? OomScoreAdj { get; init; }

    public string? SelinuxLabel { get; init; }

    /// <summary>The terminal size in characters.</summary>
    public sealed record Box
    {
        public uint Height { get; init; }

        public uint Width { get; init; }
    }

    /// <summary>A POSIX rlimit; <c>type</c> is an RLIMIT_* name (see <see cref="RlimitNames"/>).</summary>
    public sealed record Rlimit
    {
        public string Type { get; set; } = "";

        public ulong Hard { get; init; }

        public ulong Soft { get; init; }
    }
}
