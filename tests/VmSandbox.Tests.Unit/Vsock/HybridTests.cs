using System.Net.Sockets;
using System.Text;
using VmSandbox.Runtime.Vsock;
using VmSandbox.Vsock;
using VmSandbox.Vsock.Hybrid;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

public sealed class HybridTests : IDisposable
{
    private readonly MuxerHarness _h = new();
    private readonly HybridListener _listener;

    public HybridTests()
    {
        _listener = new HybridListener(_h.UdsPath, _h.Muxer, () => { });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _h.Dispose();
    }

    [Theory]
    [InlineData("CONNECT 52", true, 52u)]
    [InlineData("connect 52", true, 52u)]
    [InlineData("CoNnEcT 4294967295", true, 4294967295u)]
    [InlineData("CONNECT 0", true, 0u)]
    [InlineData("CONNECT 52\r", true, 52u)]
    [InlineData("CONNECT  52 ", true, 52u)]
    [InlineData("CONNECT 4294967296", false, 0u)]
    [InlineData("CONNECT 99999999999", false, 0u)]
    [InlineData("CONNECT -1", false, 0u)]
    [InlineData("CONNECT 0x10", false, 0u)]
    [InlineData("CONNECT 5a", false, 0u)]
    [InlineData("CONNECT ", false, 0u)]
    [InlineData("CONNECT", false, 0u)]
    [InlineData("CONNECTX 52", false, 0u)]
    [InlineData("CONNEC 52", false, 0u)]
    [InlineData("LISTEN 52", false, 0u)]
    [InlineData("", false, 0u)]
    [InlineData("connect\t52", false, 0u)]
    public void Parse(string line, bool ok, uint port)
    {
        Assert.Equal(ok, HybridConnectParser.TryParse(Encoding.ASCII.GetBytes(line), out uint p));
        Assert.Equal(port, p);
    }

    private Socket Connect()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(_h.UdsPath));
        s.ReceiveTimeout = 5000;
        return s;
    }

    /// <summary>Closed by the back-end: EOF, or a reset when our unread bytes were discarded.</summary>
    private static void AssertClosed(Socket s)
    {
        try
        {
            Assert.Equal(0, s.Receive(new byte[16]));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    [Theory]
    [InlineData("CONNECT 1234567890123456789012345678\n")] // over 32 bytes
    [InlineData("CONNECT abc\n")]
    [InlineData("HELLO 52\n")]
    [InlineData("CONNECT 52")] // no newline, then EOF
    [InlineData("\n")]
    public void BadCommand_ClosesConnection(string command)
    {
        using Socket s = Connect();
        s.Send(Encoding.ASCII.GetBytes(command));
        s.Shutdown(SocketShutdown.Send);
        AssertClosed(s);
        Assert.Null(_h.Next(50));
        Assert.Equal(0, _h.Muxer.ConnectionCount);
    }

    [Fact]
    public void ClosedGuestPort_ClosesConnection()
    {
        using Socket s = Connect();
        s.Send("CONNECT 52\n"u8);
        VsockHeader req = _h.Expect(VsockOp.Request);
        Assert.Equal(52u, req.DstPort);
        _h.Send(MuxerHarness.Packet(VsockOp.Rst, 52, req.SrcPort));
        AssertClosed(s);
    }

    [Fact]
    public async Task Connector_RetriesUntilGuestListens_ThenReturnsAfterOkLine()
    {
        Task<Socket> connect = HybridVsockConnector.ConnectAsync(_h.UdsPath, 77, DateTimeOffset.UtcNow.AddSeconds(10), TestContext.Current.CancellationToken);
        // First attempt: the guest is not listening yet.
        VsockHeader req = _h.Expect(VsockOp.Request);
        _h.Send(MuxerHarness.Packet(VsockOp.Rst, 77, req.SrcPort));
        // Second attempt: accepted; payload sent right behind the OK line must not be lost.
        req = _h.Expect(VsockOp.Request);
        _h.Send(MuxerHarness.Packet(VsockOp.Response, 77, req.SrcPort));
        _h.Send(MuxerHarness.Packet(VsockOp.Rw, 77, req.SrcPort, "payload"u8));
        using Socket s = await connect.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        byte[] buf = new byte[7];
        s.ReceiveTimeout = 5000;
        int got = 0;
        while (got < buf.Length)
        {
            got += s.Receive(buf, got, buf.Length - got, SocketFlags.None);
        }
        Assert.Equal("payload", Encoding.ASCII.GetString(buf));
    }

    [Fact]
    public void GuestNeverAnswersRequest_HostConnectionClosedAfterTimeout()
    {
        using Socket s = Connect();
        s.Send("CONNECT 52\n"u8);
        VsockHeader req = _h.Expect(VsockOp.Request);
        AssertClosed(s);
        VsockHeader rst = _h.Expect(VsockOp.Rst);
        Assert.Equal(req.SrcPort, rst.SrcPort);
        Assert.Equal(0, _h.Muxer.ConnectionCount);
    }

    [Fact]
    public async Task Connector_TimesOutAtDeadline()
    {
        var e = await Assert.ThrowsAsync<VmSandbox.Common.VmSandboxException>(() =>
            HybridVsockConnector.ConnectAsync(Path.Combine(_h.Dir, "missing.sock"), 1, DateTimeOffset.UtcNow.AddMilliseconds(200), TestContext.Current.CancellationToken));
        Assert.Equal(VmSandbox.Common.ErrorCode.Timeout, e.Code);
    }
}
