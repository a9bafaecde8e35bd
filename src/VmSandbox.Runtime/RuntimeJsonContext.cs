using System.Text.Json.Serialization;

using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Runtime;

/// <summary>Source-generated JSON for the runtime's own files (NativeAOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerRecord))]
[JsonSerializable(typeof(MonitorReport))]
public sealed partial class RuntimeJsonContext : JsonSerializerContext;
