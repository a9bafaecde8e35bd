using System.Text.Json.Serialization;
using VmSandbox.Cli.Output;

namespace VmSandbox.Cli;

/// <summary>Source-generated JSON (NativeAOT-safe, no reflection) for the CLI's own output.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(BootResult))]
[JsonSerializable(typeof(StatsEvent))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
}
