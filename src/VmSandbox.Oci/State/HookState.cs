using System.Text.Json.Serialization;

namespace VmSandbox.Oci.State;

/// <summary>
/// The OCI state object written to a hook's stdin (runtime-spec specs-go <c>State</c>):
/// ociVersion, id, status, pid (left out when 0), bundle, annotations (left out when empty).
/// </summary>
public sealed record HookState
{
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; init; } = "";

    [JsonPropertyName("id")]
    public string Id { get; init; } = "";

    [JsonPropertyName("status")]
    public string Status { get; init; } = "";

    [JsonPropertyName("pid")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Pid { get; init; }

    [JsonPropertyName("bundle")]
    public string Bundle { get; init; } = "";

    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}
