namespace VmSandbox.Oci.Spec;

/// <summary>config.json's <c>linux</c> section.</summary>
public sealed record LinuxSpec
{
    public IReadOnlyList<LinuxIdMapping>? UidMappings { get; init; }

    public IReadOnlyList<LinuxIdMapping>? GidMappings { get; init; }

    public IReadOnlyDictionary<string, string>? Sysctl { get; init; }

    public LinuxResources? Resources { get; init; }

    public string? CgroupsPath { get; init; }

    public IReadOnlyList<LinuxNamespace>? Namespaces { get; init; }

    public IReadOnlyList<LinuxDevice>? Devices { get; init; }

    public LinuxSeccomp? Seccomp { get; init; }

    public string? RootfsPropagation { get; init; }

    public IReadOnlyList<string>? MaskedPaths { get; init; }

    public IReadOnlyList<string>? ReadonlyPaths { get; init; }

    public string? MountLabel { get; init; }

    public LinuxIntelRdt? IntelRdt { get; init; }

    public LinuxPersonality? Personality { get; init; }
}
