using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>The numeric user the process runs as (the spec's Linux form; names are not resolved).</summary>
public sealed record User
{
    [JsonPropertyName("uid")]
    public uint Uid { get; init; }

    [JsonPropertyName("gid")]
    public uint Gid { get; init; }

    public uint? Umask { get; init; }

    public IReadOnlyList<uint>? AdditionalGids { get; init; }
}
