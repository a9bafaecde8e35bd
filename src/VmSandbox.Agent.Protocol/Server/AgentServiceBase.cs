using Google.Protobuf.WellKnownTypes;
using VmSandbox.Ttrpc;

namespace VmSandbox.Agent.Protocol;

/// <summary>
/// Base of the guest agent's implementation of Protos/agent.proto: override the RPCs the
/// agent supports; the others answer UNIMPLEMENTED. <see cref="Register"/> adds every RPC to
/// a <see cref="TtrpcServer"/> under <see cref="AgentApi.ServiceName"/>. Exceptions thrown by
/// an override become statuses in <see cref="StatusMapping"/>, the one place that maps them.
/// </summary>
public abstract class AgentServiceBase
{
    /// <summary>Registers this service's RPCs with <paramref name="server"/>.</summary>
    public void Register(TtrpcServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        server.RegisterService(AgentApi.ServiceName, service => service
            .AddMethod<CheckRequest, CheckResponse>(AgentApi.CheckMethod, CheckRequest.Parser, CheckAsync)
            .AddMethod<GetGuestDetailsRequest, GuestDetails>(AgentApi.GetGuestDetailsMethod, GetGuestDetailsRequest.Parser, GetGuestDetailsAsync)
            .AddMethod<CreateContainerRequest, CreateContainerResponse>(AgentApi.CreateContainerMethod, CreateContainerRequest.Parser, CreateContainerAsync)
            .AddMethod<StartContainerRequest, StartContainerResponse>(AgentApi.StartContainerMethod, StartContainerRequest.Parser, StartContainerAsync)
            .AddMethod<ExecProcessRequest, ExecProcessResponse>(AgentApi.ExecProcessMethod, ExecProcessRequest.Parser, ExecProcessAsync)
            .AddMethod<SignalProcessRequest, Empty>(AgentApi.SignalProcessMethod, SignalProcessRequest.Parser, SignalProcessAsync)
            .AddMethod<WaitProcessRequest, WaitProcessResponse>(AgentApi.WaitProcessMethod, WaitProcessRequest.Parser, WaitProcessAsync)
            .AddMethod<ResizeTtyRequest, Empty>(AgentApi.ResizeTtyMethod, ResizeTtyRequest.Parser, ResizeTtyAsync)
            .AddMethod<CloseStdinRequest, Empty>(AgentApi.CloseStdinMethod, CloseStdinRequest.Parser, CloseStdinAsync)
            .AddMethod<ListProcessesRequest, ListProcessesResponse>(AgentApi.ListProcessesMethod, ListProcessesRequest.Parser, ListProcessesAsync)
            .AddMethod<StatsRequest, StatsResponse>(AgentApi.StatsMethod, StatsRequest.Parser, StatsAsync)
            .AddMethod<RemoveContainerRequest, Empty>(AgentApi.RemoveContainerMethod, RemoveContainerRequest.Parser, RemoveContainerAsync)
            .AddMethod<PauseContainerRequest, Empty>(AgentApi.PauseContainerMethod, PauseContainerRequest.Parser, PauseContainerAsync)
            .AddMethod<ResumeContainerRequest, Empty>(AgentApi.ResumeContainerMethod, ResumeContainerRequest.Parser, ResumeContainerAsync)
            .AddMethod<UpdateContainerRequest, Empty>(AgentApi.UpdateContainerMethod, UpdateContainerRequest.Parser, UpdateContainerAsync)
            .AddMethod<SetTimeRequest, Empty>(AgentApi.SetTimeMethod, SetTimeRequest.Parser, SetTimeAsync)
            .AddMethod<ConfigureNetworkRequest, Empty>(AgentApi.ConfigureNetworkMethod, ConfigureNetworkRequest.Parser, ConfigureNetworkAsync)
            .AddMethod<ShutdownRequest, Empty>(AgentApi.ShutdownMethod, ShutdownRequest.Parser, ShutdownAsync));
    }

    /// <summary>Health and agent version.</summary>
    public virtual ValueTask<CheckResponse> CheckAsync(CheckRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.CheckMethod);

    /// <summary>Kernel, memory, CPUs, uptime of the guest.</summary>
    public virtual ValueTask<GuestDetails> GetGuestDetailsAsync(GetGuestDetailsRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.GetGuestDetailsMethod);

    /// <summary>Sets up a container; its init process waits before exec.</summary>
    public virtual ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.CreateContainerMethod);

    /// <summary>Lets the container's init process exec its entrypoint.</summary>
    public virtual ValueTask<StartContainerResponse> StartContainerAsync(StartContainerRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.StartContainerMethod);

    /// <summary>Starts an extra process in a container.</summary>
    public virtual ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.ExecProcessMethod);

    /// <summary>Sends a signal to a process (or all processes) of a container.</summary>
    public virtual ValueTask<Empty> SignalProcessAsync(SignalProcessRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.SignalProcessMethod);

    /// <summary>Long-poll: completes when the process has exited.</summary>
    public virtual ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.WaitProcessMethod);

    /// <summary>Resizes a process's terminal.</summary>
    public virtual ValueTask<Empty> ResizeTtyAsync(ResizeTtyRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.ResizeTtyMethod);

    /// <summary>Closes a process's stdin.</summary>
    public virtual ValueTask<Empty> CloseStdinAsync(CloseStdinRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.CloseStdinMethod);

    /// <summary>The processes of a container.</summary>
    public virtual ValueTask<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.ListProcessesMethod);

    /// <summary>cgroup statistics of a container.</summary>
    public virtual ValueTask<StatsResponse> StatsAsync(StatsRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.StatsMethod);

    /// <summary>Kills what is left of a container and removes it.</summary>
    public virtual ValueTask<Empty> RemoveContainerAsync(RemoveContainerRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.RemoveContainerMethod);

    /// <summary>Freezes the container's processes.</summary>
    public virtual ValueTask<Empty> PauseContainerAsync(PauseContainerRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.PauseContainerMethod);

    /// <summary>Thaws a paused container.</summary>
    public virtual ValueTask<Empty> ResumeContainerAsync(ResumeContainerRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.ResumeContainerMethod);

    /// <summary>Replaces the container's cgroup limits.</summary>
    public virtual ValueTask<Empty> UpdateContainerAsync(UpdateContainerRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.UpdateContainerMethod);

    /// <summary>Sets the guest's wall clock.</summary>
    public virtual ValueTask<Empty> SetTimeAsync(SetTimeRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.SetTimeMethod);

    /// <summary>Replaces the guest's network configuration.</summary>
    public virtual ValueTask<Empty> ConfigureNetworkAsync(ConfigureNetworkRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.ConfigureNetworkMethod);

    /// <summary>Powers the guest off; the reply may be lost with the connection.</summary>
    public virtual ValueTask<Empty> ShutdownAsync(ShutdownRequest request, TtrpcCallContext context) =>
        throw Unimplemented(AgentApi.ShutdownMethod);

    private static TtrpcException Unimplemented(string method) =>
        new(StatusCode.Unimplemented, $"agent method {method}: not implemented");
}
