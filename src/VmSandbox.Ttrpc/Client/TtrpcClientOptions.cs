namespace VmSandbox.Ttrpc;

/// <summary>Connection-wide settings of <see cref="TtrpcClient"/>.</summary>
public sealed class TtrpcClientOptions
{
    /// <summary>The timeout of calls that set none. Null: no deadline.</summary>
    public TimeSpan? DefaultTimeout { get; init; }

    /// <summary>
    /// Metadata sent with every call before the call's own, e.g. containerd's
    /// <c>containerd-namespace-ttrpc</c>.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Metadata { get; init; }
}
