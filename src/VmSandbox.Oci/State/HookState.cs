using System.Text.Json.Serialization;

namespace VmSandbox.Oci.State;

/// <summary>
/// The OCI state object written to a hook's stdin (runtime-spec specs-go <c>State</c>):
/// ociVersion, id, status, pid (left out when 0), bundle, annotations (left out when empty).
/// </summary>
public sealed record HookState
{
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    [JsonPropertyName("id")]
    public string Id { get; set; } = "";

    [JsonPropertyName("status")]
    public string Status { get; set; } = "";

    [JsonPropertyName("pid")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Pid { get; init; }

    [JsonPropertyName("bundle")]
    public string Bundle { get; set; } = "";

    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}
