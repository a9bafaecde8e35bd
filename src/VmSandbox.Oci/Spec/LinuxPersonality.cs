namespace VmSandbox.Oci.Spec;

/// <summary>The execution domain (<c>LINUX</c> or <c>LINUX32</c>) and its flags.</summary>
public sealed record LinuxPersonality
{
    public string Domain { get; set; } = "";

    public IReadOnlyList<string>? Flags { get; init; }
}
