using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>
/// The OCI runtime-spec config.json (1.0.2–1.2) as runc 1.1 reads it. Property names are the
/// spec's camelCase; unknown properties are ignored so that newer bundles still load; what Go
/// marks <c>omitempty</c> is left out when written. Loaded and validated by <see cref="SpecLoader"/>.
/// </summary>
public sealed record RuntimeSpec
{
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    public ProcessSpec? Process { get; init; }

    public Root? Root { get; init; }

    public string? Hostname { get; init; }

    public string? Domainname { get; init; }

    public IReadOnlyList<Mount>? Mounts { get; init; }

    public Hooks? Hooks { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public LinuxSpec? Linux { get; init; }
}
