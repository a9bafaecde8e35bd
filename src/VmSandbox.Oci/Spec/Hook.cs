namespace VmSandbox.Oci.Spec;

/// <summary>One hook: an absolute path, its argv (argv[0] included), env, and a timeout in seconds.</summary>
public sealed record Hook
{
    public string Path { get; set; } = "";

    public IReadOnlyList<string>? Args { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public int? Timeout { get; init; }
}
