using System.Text.Json.Serialization;

namespace VmSandbox.Oci.State;

/// <summary>
/// What <c>vmsandbox state ID</c> prints and one entry of <c>list --format json</c>: runc 1.1's
/// <c>containerState</c> (list.go), same property names and order. <c>annotations</c> is left
/// out when empty and <c>owner</c> is always written (runc's <c>state</c> leaves it "").
/// Written by <see cref="StateJson"/>.
/// </summary>
public sealed record ContainerState
{
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    [JsonPropertyName("id")]
    public string Id { get; set; } = "";

    /// <summary>The container's PID on the host (the sandbox monitor's); 0 once stopped.</summary>
    [JsonPropertyName("pid")]
    public int Pid { get; init; }

    [JsonPropertyName("status")]
    public string Status { get; set; } = "";

    [JsonPropertyName("bundle")]
    public string Bundle { get; set; } = "";

    [JsonPropertyName("rootfs")]
    public string Rootfs { get; set; } = "";

    /// <summary>The creation time in Go's RFC3339Nano form (see <see cref="StateJson.FormatTime"/>).</summary>
    [JsonPropertyName("created")]
    public string Created { get; set; } = "";

    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    [JsonPropertyName("owner")]
    public string Owner { get; set; } = "";
}
