namespace VmSandbox.Ttrpc;

/// <summary>
/// Handles one unary ttrpc method: gets the serialized request, returns the response (a
/// message or bytes). Throwing answers the call with the status that
/// <see cref="StatusMapping.FromException"/> picks.
/// </summary>
public delegate ValueTask<TtrpcResult> TtrpcMethodHandler(ReadOnlyMemory<byte> payload, TtrpcCallContext context);
