namespace VmSandbox.Virtio;

/// <summary>The outcome of <see cref="Virtqueue.TryPop"/>.</summary>
public enum PopResult
{
    /// <summary>No available buffer (or the queue is not ready).</summary>
    Empty,
    /// <summary>A validated chain was returned.</summary>
    Chain,
    /// <summary>The ring itself is corrupt; the queue is now broken and processes nothing more.</summary>
    Broken,
}
