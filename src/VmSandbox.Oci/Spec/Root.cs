using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>The container's root filesystem; a relative path is relative to the bundle.</summary>
public sealed record Root
{
    public string Path { get; init; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Readonly { get; init; }
}
