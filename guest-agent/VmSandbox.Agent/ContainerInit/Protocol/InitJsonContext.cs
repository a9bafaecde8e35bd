using System.Text.Json.Serialization;

namespace VmSandbox.Agent.ContainerInit.Protocol;

/// <summary>
/// Source-generated JSON for <see cref="InitMessage"/> (NativeAOT). The options are the OCI
/// model's (VmSandbox.Oci's OciJsonContext): the typed spec, process and seccomp profile it
/// carries are written and read back exactly as the OCI JSON reader read them (null left out,
/// false and 0 written, so properties with non-default initial values keep their value).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(InitMessage))]
internal sealed partial class InitJsonContext : JsonSerializerContext
{
}
