namespace VmSandbox.Oci.Spec;

/// <summary>The lifecycle hooks; <c>prestart</c> is deprecated but still used by Docker 20.10.</summary>
public sealed record Hooks
{
    public IReadOnlyList<Hook>? Prestart { get; init; }

    public IReadOnlyList<Hook>? CreateRuntime { get; init; }

    public IReadOnlyList<Hook>? CreateContainer { get; init; }

    public IReadOnlyList<Hook>? StartContainer { get; init; }

    public IReadOnlyList<Hook>? Poststart { get; init; }

    public IReadOnlyList<Hook>? Poststop { get; init; }

    /// <summary>Every hook list with its spec name, in lifecycle order (for validation and <c>features</c>).</summary>
    public IEnumerable<(string Name, IReadOnlyList<Hook>? List)> All()
    {
        yield return ("prestart", Prestart);
        yield return ("createRuntime", CreateRuntime);
        yield return ("createContainer", CreateContainer);
        yield return ("startContainer", StartContainer);
        yield return ("poststart", Poststart);
        yield return ("poststop", Poststop);
    }
}
