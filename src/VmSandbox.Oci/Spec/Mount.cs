namespace VmSandbox.Oci.Spec;

/// <summary>One entry of config.json's <c>mounts</c>, applied in order inside the guest.</summary>
public sealed record Mount
{
    public string Destination { get; set; } = "";

    public string? Type { get; init; }

    public string? Source { get; init; }

    public IReadOnlyList<string>? Options { get; init; }

    public IReadOnlyList<LinuxIdMapping>? UidMappings { get; init; }

    public IReadOnlyList<LinuxIdMapping>? GidMappings { get; init; }
}
