namespace VmSandbox.Ttrpc;

/// <summary>What a handler knows about the call it serves.</summary>
public sealed class TtrpcCallContext
{
    internal TtrpcCallContext(
        string service,
        string method,
        uint streamId,
        IReadOnlyList<KeyValuePair<string, string>> metadata,
        DateTimeOffset? deadline,
        CancellationToken cancellationToken)
    {
        Service = service;
        Method = method;
        StreamId = streamId;
        Metadata = metadata;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    public string Service { get; }

    public string Method { get; }

    public uint StreamId { get; }

    /// <summary>The request's metadata in wire order; a key may repeat.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; }

    /// <summary>When the caller's timeout_nano runs out; null when it sent none.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Fires at the deadline and when the connection closes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The first value of metadata key <paramref name="key"/>, or null.</summary>
    public string? GetMetadata(string key)
    {
        foreach (var (k, v) in Metadata)
        {
            if (k == key)
            {
                return v;
            }
        }
        return null;
    }
}
