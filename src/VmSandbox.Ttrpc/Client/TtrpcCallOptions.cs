namespace VmSandbox.Ttrpc;

/// <summary>Per-call settings of <see cref="TtrpcClient"/>.</summary>
public sealed class TtrpcCallOptions
{
    /// <summary>
    /// How long the call may take. It is sent as timeout_nano, so that the server cancels its
    /// handler, and enforced locally with <see cref="StatusCode.DeadlineExceeded"/>. Null: the
    /// client's default.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Metadata sent with the call (one entry per value; a key may repeat).</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Metadata { get; init; }
}
