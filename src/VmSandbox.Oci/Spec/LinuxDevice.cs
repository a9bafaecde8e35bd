namespace VmSandbox.Oci.Spec;

/// <summary>A device node to create in the container (<c>linux.devices</c>).</summary>
public sealed record LinuxDevice
{
    public string Path { get; set; } = "";

    public string Type { get; set; } = "";

    public long Major { get; init; }

    public long Minor { get; init; }

    public uint? FileMode { get; init; }

    public uint? Uid { get; init; }

    public uint? Gid { get; init; }
}
