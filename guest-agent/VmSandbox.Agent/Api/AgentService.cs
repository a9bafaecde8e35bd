using Google.Protobuf.WellKnownTypes;
using VmSandbox.Agent.Protocol;
using VmSandbox.Ttrpc;

namespace VmSandbox.Agent.Api;

/// <summary>
/// The agent's implementation of the agent API (Protos/agent.proto). RPCs not overridden here
/// answer UNIMPLEMENTED; the container RPCs come with the OCI lifecycle work.
/// Collaborators: <see cref="GuestFacts"/> for GetGuestDetails, a shutdown callback into PID 1.
/// </summary>
public sealed class AgentService : AgentServiceBase
{
    /// <summary>Delay between answering Shutdown and powering off, so the answer leaves the guest.</summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromMilliseconds(50);

    private readonly GuestFacts _facts;
    private readonly Action<string> _requestShutdown;

    public AgentService(GuestFacts facts, Action<string> requestShutdown)
    {
        _facts = facts;
        _requestShutdown = requestShutdown;
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
