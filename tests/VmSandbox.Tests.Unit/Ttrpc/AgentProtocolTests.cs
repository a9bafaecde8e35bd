using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Ttrpc;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>The typed agent client against an <see cref="AgentServiceBase"/> over a socket pair.</summary>
public sealed class AgentProtocolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CheckAndGetGuestDetailsRoundTrip()
    {
        await using var host = TtrpcTestHost.Start(new FakeAgent().Register);
        var agent = new AgentClient(host.Client);

        var check = await agent.CheckAsync(new CheckRequest(), cancellationToken: Ct);
        var details = await agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(5) }, Ct);

        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, check.Status);
        Assert.Equal("1.2.3-test", check.AgentVersion);
        Assert.Equal(AgentApi.ApiVersion, check.ApiVersion);
        Assert.Equal("6.1.0-test", details.KernelRelease);
        Assert.Equal(512UL << 20, details.MemoryTotalBytes);
        Assert.Equal(300UL << 20, details.MemoryAvailableBytes);
        Assert.Equal(2u, details.CpuCount);
        Assert.Equal(1_500_000_000UL, details.UptimeNano);
    }

    [Fact]
    public async Task RpcNotOverriddenIsUnimplemented()
    {
        await using var host = TtrpcTestHost.Start(new FakeAgent().Register);
        var agent = new AgentClient(host.Client);

        var e = await Assert.ThrowsAsync<TtrpcException>(() => agent.StatsAsync(new StatsRequest { ContainerId = "c1" }, cancellationToken: Ct));

        Assert.Equal(StatusCode.Unimplemented, e.Status);
        Assert.Equal("agent method Stats: not implemented", e.Message);
    }

    [Fact]
    public async Task WaitProcessLongPollsWhileOtherCallsProceed()
    {
        var fake = new FakeAgent();
        await using var host = TtrpcTestHost.Start(fake.Register);
        var agent = new AgentClient(host.Client);

        var wait = agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = "c1" }, cancellationToken: Ct);
        await agent.SignalProcessAsync(new SignalProcessRequest { ContainerId = "c1", Signal = 15 }, cancellationToken: Ct);
        var exit = await wait.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(143, exit.ExitCode);
        Assert.Equal(15u, exit.Signal);
    }

    [Fact]
    public async Task CreateContainerCarriesSpecAndStdioStreams()
    {
        var fake = new FakeAgent();
        await using var host = TtrpcTestHost.Start(fake.Register);
        var agent = new AgentClient(host.Client);
        var request = new CreateContainerRequest
        {
            ContainerId = "c1",
            OciSpec = ByteString.CopyFromUtf8("{\"ociVersion\":\"1.0.2\"}"),
            Rootfs = new RootfsMount { ShareTag = "rootfs", Path = "c1/rootfs", FsType = "virtiofs" },
            Stdio = new Stdio
            {
                Stdin = new StdioStream { Port = 2000, Token = 1 },
                Stdout = new StdioStream { Port = 2000, Token = 2 },
            },
        };

        var created = await agent.CreateContainerAsync(request, cancellationToken: Ct);

        Assert.Equal(42u, created.Pid);
        Assert.Equal(request, fake.LastCreate);
        Assert.Null(fake.LastCreate!.Stdio.Stderr);
    }

    private sealed class FakeAgent : AgentServiceBase
    {
        private readonly TaskCompletionSource<uint> _signalled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CreateContainerRequest? LastCreate { get; private set; }

        public override ValueTask<CheckResponse> CheckAsync(CheckRequest request, TtrpcCallContext context) =>
            ValueTask.FromResult(new CheckResponse
            {
                Status = CheckResponse.Types.ServingStatus.Serving,
                AgentVersion = "1.2.3-test",
                ApiVersion = AgentApi.ApiVersion,
            });

        public override ValueTask<GuestDetails> GetGuestDetailsAsync(GetGuestDetailsRequest request, TtrpcCallContext context) =>
            ValueTask.FromResult(new GuestDetails
            {
                KernelRelease = "6.1.0-test",
                MemoryTotalBytes = 512UL << 20,
                MemoryAvailableBytes = 300UL << 20,
                CpuCount = 2,
                AgentVersion = "1.2.3-test",
                UptimeNano = 1_500_000_000,
            });

        public override ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, TtrpcCallContext context)
        {
            LastCreate = request;
            return ValueTask.FromResult(new CreateContainerResponse { Pid = 42 });
        }

        public override ValueTask<Google.Protobuf.WellKnownTypes.Empty> SignalProcessAsync(SignalProcessRequest request, TtrpcCallContext context)
        {
            _signalled.TrySetResult(request.Signal);
            return ValueTask.FromResult(new Google.Protobuf.WellKnownTypes.Empty());
        }

        public override async ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, TtrpcCallContext context)
        {
            uint signal = await _signalled.Task.WaitAsync(context.CancellationToken);
            return new WaitProcessResponse { ExitCode = 128 + (int)signal, Signal = signal };
        }
    }
}
