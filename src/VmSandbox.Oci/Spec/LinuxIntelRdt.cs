using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>Intel RDT settings; parsed for completeness, never applied inside a VM.</summary>
public sealed record LinuxIntelRdt
{
    [JsonPropertyName("closID")]
    public string? ClosId { get; init; }

    public string? L3CacheSchema { get; init; }

    public string? MemBwSchema { get; init; }

    [JsonPropertyName("enableCMT")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool EnableCmt { get; init; }

    [JsonPropertyName("enableMBM")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool EnableMbm { get; init; }
}
