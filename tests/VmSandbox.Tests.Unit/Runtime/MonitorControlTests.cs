using VmSandbox.Common;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class MonitorControlTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-ctl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_verb_that_ends_the_monitor_is_still_answered()
    {
        // kill-vm: the VM dies, so the monitor disposes its control server while the verb's
        // handler finishes; the caller hears it done, not an empty answer.
        MonitorControl? control = null;
        Task? disposing = null;
        control = MonitorControl.Start(_dir, async (verb, ct) =>
        {
            disposing = Task.Run(async () => await control!.DisposeAsync(), CancellationToken.None);
            await Task.Delay(200, CancellationToken.None);
        }, _ => { });
        await Task.Run(() => MonitorControl.Request(_dir, MonitorControl.KillVm, TimeSpan.FromSeconds(10)), TestContext.Current.CancellationToken);
        await disposing!;
    }

    [Fact]
    public async Task An_empty_answer_is_a_protocol_error_for_every_verb()
    {
        string path = Path.Combine(_dir, MonitorControl.FileName);
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task server = Task.Run(async () =>
        {
            using var conn = await listener.AcceptAsync(ct);
            byte[] buffer = new byte[64];
            _ = await conn.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, ct);
        }, ct);
        var e = await Assert.ThrowsAsync<VmSandboxException>(() => Task.Run(() => MonitorControl.Request(_dir, MonitorControl.KillVm, TimeSpan.FromSeconds(10)), ct));
        Assert.Equal(ErrorCode.Protocol, e.Code);
        await server;
    }
}
