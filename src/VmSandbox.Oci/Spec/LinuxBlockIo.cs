using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>Block I/O weights and throttles (<c>linux.resources.blockIO</c>).</summary>
public sealed record LinuxBlockIo
{
    public ushort? Weight { get; init; }

    public ushort? LeafWeight { get; init; }

    public IReadOnlyList<DeviceWeight>? WeightDevice { get; init; }

    public IReadOnlyList<DeviceRate>? ThrottleReadBpsDevice { get; init; }

    public IReadOnlyList<DeviceRate>? ThrottleWriteBpsDevice { get; init; }

    [JsonPropertyName("throttleReadIOPSDevice")]
    public IReadOnlyList<DeviceRate>? ThrottleReadIopsDevice { get; init; }

    [JsonPropertyName("throttleWriteIOPSDevice")]
    public IReadOnlyList<DeviceRate>? ThrottleWriteIopsDevice { get; init; }

    /// <summary>A per-device weight.</summary>
    public sealed record DeviceWeight
    {
        public long Major { get; init; }

        public long Minor { get; init; }

        public ushort? Weight { get; init; }

        public ushort? LeafWeight { get; init; }
    }

    /// <summary>A per-device rate (bytes or operations per second).</summary>
    public sealed record DeviceRate
    {
        public long Major { get; init; }

        public long Minor { get; init; }

        public ulong Rate { get; init; }
    }
}
