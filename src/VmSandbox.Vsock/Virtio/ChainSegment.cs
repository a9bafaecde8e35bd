namespace VmSandbox.Vsock.Virtio;

/// <summary>One validated, translated descriptor buffer of a chain.</summary>
internal readonly record struct ChainSegment(nint Host, uint Length, bool Writable);
