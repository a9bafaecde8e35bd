using System.Text.Json.Serialization;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;

namespace VmSandbox.Oci;

/// <summary>
/// Source-generated JSON for every OCI document (NativeAOT-safe; the guest agent uses it too).
/// Reading is case-insensitive like Go's encoding/json; nulls where the type has none are errors.
/// Properties with a non-default initial value ("", a new object) have setters, not init: the
/// generator assigns default to every absent init-only property, which would turn them into null.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(RuntimeSpec))]
[JsonSerializable(typeof(ProcessSpec))]
[JsonSerializable(typeof(ContainerState))]
[JsonSerializable(typeof(IReadOnlyList<ContainerState>))]
[JsonSerializable(typeof(HookState))]
[JsonSerializable(typeof(Features))]
[JsonSerializable(typeof(IReadOnlyList<int>))]
internal sealed partial class OciJsonContext : JsonSerializerContext
{
}
