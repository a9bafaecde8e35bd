using System.Net.Sockets;
using VmSandbox.Agent.Api;
using VmSandbox.Agent.Protocol;
using VmSandbox.Ttrpc;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class AgentServiceTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("vmsandbox-proc-").FullName;

    public AgentServiceTests()
    {
        Directory.CreateDirectory(Path.Combine(_proc, "sys/kernel"));
        File.WriteAllText(Path.Combine(_proc, "sys/kernel/osrelease"), "6.1.0-56-cloud-amd64\n");
        File.WriteAllText(Path.Combine(_proc, "meminfo"), "MemTotal:         223472 kB\nMemFree:          200000 kB\nMemAvailable:     190000 kB\n");
        File.WriteAllText(Path.Combine(_proc, "uptime"), "3.25 1.00\n");
    }

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    [Fact]
    public void Guest_facts_come_from_proc()
    {
        GuestDetails d = new GuestFacts(_proc).Read();
        Assert.Equal("6.1.0-56-cloud-amd64", d.KernelRelease);
        Assert.Equal(223472UL * 1024, d.MemoryTotalBytes);
        Assert.Equal(190000UL * 1024, d.MemoryAvailableBytes);
        Assert.Equal(3_250_000_000UL, d.UptimeNano);
        Assert.True(d.CpuCount >= 1);
    }

    [Fact]
    public async Task Check_details_and_shutdown_over_ttrpc()
    {
        var shutdown = new TaskCompletionSource<string>();
        var server = new TtrpcServer();
        new AgentService(new GuestFacts(_proc), r => shutdown.TrySetResult(r)).Register(server);
        (Socket a, Socket b) = SocketPair();
        using var serverStream = new NetworkStream(a, ownsSocket: true);
        Task serving = server.ServeConnectionAsync(serverStream, TestContext.Current.CancellationToken);
        await using var client = new TtrpcClient(new NetworkStream(b, ownsSocket: true));
        var agent = new AgentClient(client);

        CheckResponse check = await agent.CheckAsync(new CheckRequest(), null, TestContext.Current.CancellationToken);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, check.Status);
        Assert.Equal(AgentApi.ApiVersion, check.ApiVersion);

        GuestDetails details = await agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), null, TestContext.Current.CancellationToken);
        Assert.Equal("6.1.0-56-cloud-amd64", details.KernelRelease);

        Assert.False(shutdown.Task.IsCompleted);
        await agent.ShutdownAsync(new ShutdownRequest(), null, TestContext.Current.CancellationToken);
        Assert.Equal("shutdown rpc", await shutdown.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        var e = await Assert.ThrowsAsync<TtrpcException>(() => agent.StartContainerAsync(new StartContainerRequest(), null, TestContext.Current.CancellationToken));
        Assert.Equal(StatusCode.Unimplemented, e.Status);
    }

    private static (Socket, Socket) SocketPair()
    {
        string path = Path.Combine(Path.GetTempPath(), "vmsandbox-sp-" + Guid.NewGuid().ToString("N")[..8]);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        Socket server = listener.Accept();
        File.Delete(path);
        return (server, client);
    }
}
