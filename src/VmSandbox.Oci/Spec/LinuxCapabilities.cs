namespace VmSandbox.Oci.Spec;

/// <summary>The five capability sets, as CAP_* names (see <see cref="CapabilityNames"/>).</summary>
public sealed record LinuxCapabilities
{
    public IReadOnlyList<string>? Bounding { get; init; }

    public IReadOnlyList<string>? Effective { get; init; }

    public IReadOnlyList<string>? Inheritable { get; init; }

    public IReadOnlyList<string>? Permitted { get; init; }

    public IReadOnlyList<string>? Ambient { get; init; }

    /// <summary>Every set with its spec name.</summary>
    public IEnumerable<(string Name, IReadOnlyList<string>? Caps)> All()
    {
        yield return ("bounding", Bounding);
        yield return ("effective", Effective);
        yield return ("inheritable", Inheritable);
        yield return ("permitted", Permitted);
        yield return ("ambient", Ambient);
    }
}
