using System.Text.Json.Serialization;

namespace VmSandbox.Agent.Containers;

/// <summary>Source-generated JSON for <see cref="InitMessage"/> (NativeAOT).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(InitMessage))]
internal sealed partial class InitJsonContext : JsonSerializerContext
{
}
