namespace VmSandbox.Oci.Spec;

/// <summary>A namespace to create (no path) or to join (path).</summary>
public sealed record LinuxNamespace
{
    /// <summary>The types runtime-spec 1.2 defines.</summary>
    public static readonly IReadOnlyList<string> KnownTypes = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];

    public string Type { get; set; } = "";

    public string? Path { get; init; }
}
