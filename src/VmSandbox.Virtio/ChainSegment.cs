namespace VmSandbox.Virtio;

/// <summary>One validated, translated descriptor buffer of a chain.</summary>
public readonly record struct ChainSegment(nint Host, uint Length, bool Writable);
