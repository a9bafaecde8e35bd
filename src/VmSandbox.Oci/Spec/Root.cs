using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>The container's root filesystem; a relative path is relative to the bundle.</summary>
public sealed record Root
{
    public string Path { get; set; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Readonly { get; init; }
}
