using Google.Protobuf.WellKnownTypes;
using VmSandbox.Agent.Containers;
using VmSandbox.Agent.Protocol;
using VmSandbox.Ttrpc;

namespace VmSandbox.Agent.Api;

/// <summary>
/// The agent's implementation of the agent API (Protos/agent.proto). RPCs not overridden here
/// answer UNIMPLEMENTED. Exceptions become ttrpc statuses in StatusMapping (VmSandbox.Ttrpc).
/// Collaborators: <see cref="GuestFacts"/> for GetGuestDetails, <see cref="ContainerManager"/>
/// for the container RPCs (blocking work runs on the thread pool), a shutdown callback into PID 1.
/// </summary>
public sealed class AgentService : AgentServiceBase
{
    /// <summary>Delay between answering Shutdown and powering off, so the answer leaves the guest.</summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromMilliseconds(50);

    private readonly GuestFacts _facts;
    private readonly Action<string> _requestShutdown;
    private readonly ContainerManager? _containers;

    public AgentService(GuestFacts facts, Action<string> requestShutdown, ContainerManager? containers = null)
    {
        _facts = facts;
        _requestShutdown = requestShutdown;
        _containers = containers;
    }

    private ContainerManager Containers =>
        _containers ?? throw new TtrpcException(StatusCode.Unimplemented, "containers: not available in this agent");

    private static ValueTask<T> Run<T>(Func<T> work) => new(Task.Run(work));

    private static ValueTask<Empty> Run(Action work) => new(Task.Run(() =>
    {
        work();
        return new Empty();
    }));

    public override ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Create(request));

    public override ValueTask<Empty> ConfigureNetworkAsync(ConfigureNetworkRequest request, TtrpcCallContext context) =>
        Run(() => Network.NetworkConfigurator.Configure(request));

    public override ValueTask<StartContainerResponse> StartContainerAsync(StartContainerRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Start(request));

    public override ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Exec(request));

    public override ValueTask<Empty> SignalProcessAsync(SignalProcessRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Signal(request));

    public override async ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, TtrpcCallContext context) =>
        await Containers.WaitAsync(request, context.CancellationToken).ConfigureAwait(false);

    public override ValueTask<Empty> ResizeTtyAsync(ResizeTtyRequest request, TtrpcCallContext context) =>
        Run(() => Containers.ResizeTty(request));

    public override ValueTask<Empty> CloseStdinAsync(CloseStdinRequest request, TtrpcCallContext context) =>
        Run(() => Containers.CloseStdin(request));

    public override ValueTask<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, TtrpcCallContext context) =>
        Run(() => Containers.List(request));

    public override ValueTask<StatsResponse> StatsAsync(StatsRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Stats(request));

    public override ValueTask<Empty> PauseContainerAsync(PauseContainerRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Pause(request));

    public override ValueTask<Empty> ResumeContainerAsync(ResumeContainerRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Resume(request));

    public override ValueTask<Empty> UpdateContainerAsync(UpdateContainerRequest request, TtrpcCallContext context) =>
        Run(() => Containers.Update(request));

    public override async ValueTask<Empty> RemoveContainerAsync(RemoveContainerRequest request, TtrpcCallContext context)
    {
        await Containers.RemoveAsync(request).ConfigureAwait(false);
        return new Empty();
    }

    public override ValueTask<CheckResponse> CheckAsync(CheckRequest request, TtrpcCallContext context) =>
        ValueTask.FromResult(new CheckResponse
        {
            Status = CheckResponse.Types.ServingStatus.Serving,
            AgentVersion = AgentInfo.Version,
            ApiVersion = AgentApi.ApiVersion,
        });

    public override ValueTask<GuestDetails> GetGuestDetailsAsync(GetGuestDetailsRequest request, TtrpcCallContext context) =>
        ValueTask.FromResult(_facts.Read());

    public override ValueTask<Empty> ShutdownAsync(ShutdownRequest request, TtrpcCallContext context)
    {
        _ = Task.Run(async () =>
        {
            await Task.Delay(ShutdownGrace);
            _requestShutdown("shutdown rpc");
        });
        return ValueTask.FromResult(new Empty());
    }
}
