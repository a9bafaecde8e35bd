namespace VmSandbox.Agent.Network;

/// <summary>Bounds of one <see cref="DnsRelay"/>: what a busy or broken resolver in the guest can cost.</summary>
public sealed record DnsRelayLimits
{
    /// <summary>UDP queries waiting for the host at once; more are dropped (the client retries).</summary>
    public int MaxQueriesInFlight { get; init; } = 64;

    /// <summary>From a UDP query's arrival to its reply; past it the query is dropped.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>TCP clients spliced at once; more are closed at once.</summary>
    public int MaxTcpClients { get; init; } = 16;

    /// <summary>A TCP client whose connection moves no byte for this long is closed.</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
