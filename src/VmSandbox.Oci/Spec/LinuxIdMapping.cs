using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>A user-namespace (or id-mapped mount) range.</summary>
public sealed record LinuxIdMapping
{
    [JsonPropertyName("containerID")]
    public uint ContainerId { get; init; }

    [JsonPropertyName("hostID")]
    public uint HostId { get; init; }

    public uint Size { get; init; }
}
