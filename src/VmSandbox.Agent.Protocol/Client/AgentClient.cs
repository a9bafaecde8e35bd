using Google.Protobuf.WellKnownTypes;
using VmSandbox.Ttrpc;

namespace VmSandbox.Agent.Protocol;

/// <summary>
/// Typed client of the guest agent API: one async method per RPC of Protos/agent.proto, over a
/// <see cref="TtrpcClient"/> that the caller owns (one connection to vsock port
/// <see cref="AgentApi.VsockPort"/>; calls may run concurrently on it). Failures surface as
/// <see cref="TtrpcException"/> with the agent's status code.
/// </summary>
public sealed class AgentClient
{
    private readonly TtrpcClient _client;

    public AgentClient(TtrpcClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
    }

    /// <summary>Health and agent version.</summary>
    public Task<CheckResponse> CheckAsync(CheckRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.CheckMethod, request, CheckResponse.Parser, options, cancellationToken);

    /// <summary>Kernel, memory, CPUs, uptime of the guest.</summary>
    public Task<GuestDetails> GetGuestDetailsAsync(GetGuestDetailsRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.GetGuestDetailsMethod, request, GuestDetails.Parser, options, cancellationToken);

    /// <summary>Sets up a container; its init process waits before exec.</summary>
    public Task<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.CreateContainerMethod, request, CreateContainerResponse.Parser, options, cancellationToken);

    /// <summary>Lets the container's init process exec its entrypoint.</summary>
    public Task<StartContainerResponse> StartContainerAsync(StartContainerRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.StartContainerMethod, request, StartContainerResponse.Parser, options, cancellationToken);

    /// <summary>Starts an extra process in a container.</summary>
    public Task<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.ExecProcessMethod, request, ExecProcessResponse.Parser, options, cancellationToken);

    /// <summary>Sends a signal to a process (or all processes) of a container.</summary>
    public Task<Empty> SignalProcessAsync(SignalProcessRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.SignalProcessMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Long-poll: completes when the process has exited.</summary>
    public Task<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.WaitProcessMethod, request, WaitProcessResponse.Parser, options, cancellationToken);

    /// <summary>Resizes a process's terminal.</summary>
    public Task<Empty> ResizeTtyAsync(ResizeTtyRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.ResizeTtyMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Closes a process's stdin.</summary>
    public Task<Empty> CloseStdinAsync(CloseStdinRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.CloseStdinMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>The processes of a container.</summary>
    public Task<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.ListProcessesMethod, request, ListProcessesResponse.Parser, options, cancellationToken);

    /// <summary>cgroup statistics of a container.</summary>
    public Task<StatsResponse> StatsAsync(StatsRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.StatsMethod, request, StatsResponse.Parser, options, cancellationToken);

    /// <summary>Kills what is left of a container and removes it.</summary>
    public Task<Empty> RemoveContainerAsync(RemoveContainerRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.RemoveContainerMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Freezes the container's processes (cgroup.freeze).</summary>
    public Task<Empty> PauseContainerAsync(PauseContainerRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.PauseContainerMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Thaws a paused container.</summary>
    public Task<Empty> ResumeContainerAsync(ResumeContainerRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.ResumeContainerMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Replaces the container's cgroup limits (OCI LinuxResources JSON).</summary>
    public Task<Empty> UpdateContainerAsync(UpdateContainerRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.UpdateContainerMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Sets the guest's wall clock.</summary>
    public Task<Empty> SetTimeAsync(SetTimeRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.SetTimeMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Replaces the guest's network configuration.</summary>
    public Task<Empty> ConfigureNetworkAsync(ConfigureNetworkRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.ConfigureNetworkMethod, request, Empty.Parser, options, cancellationToken);

    /// <summary>Powers the guest off; the reply may be lost with the connection.</summary>
    public Task<Empty> ShutdownAsync(ShutdownRequest request, TtrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _client.CallAsync(AgentApi.ServiceName, AgentApi.ShutdownMethod, request, Empty.Parser, options, cancellationToken);
}
