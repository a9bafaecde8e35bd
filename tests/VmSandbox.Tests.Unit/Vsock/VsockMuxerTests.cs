using System.Net.Sockets;
using System.Text;
using VmSandbox.Vsock;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

public sealed class VsockMuxerTests : IDisposable
{
    private readonly MuxerHarness _h = new();

    public void Dispose() => _h.Dispose();

    private (Socket Host, Socket Listener) Establish(uint guestPort, uint hostPort, uint bufAlloc = 65536)
    {
        Socket listener = _h.Listen(hostPort);
        _h.Send(MuxerHarness.Packet(VsockOp.Request, guestPort, hostPort, bufAlloc: bufAlloc));
        Socket host = listener.Accept();
        VsockHeader resp = _h.Expect(VsockOp.Response);
        Assert.Equal(hostPort, resp.SrcPort);
        Assert.Equal(guestPort, resp.DstPort);
        Assert.Equal(262144u, resp.BufAlloc);
        return (host, listener);
    }

    private static byte[] ReadExactly(Socket s, int n)
    {
        byte[] b = new byte[n];
        s.ReceiveTimeout = 5000;
        int got = 0;
        while (got < n)
        {
            int r = s.Receive(b, got, n - got, SocketFlags.None);
            Assert.NotEqual(0, r);
            got += r;
        }
        return b;
    }

    [Fact]
    public void Request_ToUnlistenedPort_GetsRst()
    {
        _h.Send(MuxerHarness.Packet(VsockOp.Request, 1000, 5000));
        VsockHeader rst = _h.Expect(VsockOp.Rst);
        Assert.Equal(5000u, rst.SrcPort);
        Assert.Equal(1000u, rst.DstPort);
        Assert.Equal(0, _h.Muxer.ConnectionCount);
    }

    [Fact]
    public void Handshake_ThenDataFlowsBothWays_WithCreditAccounting()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            _h.Send(MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, "hello"u8));
            Assert.Equal("hello", Encoding.ASCII.GetString(ReadExactly(host, 5)));

            // Our next packet carries fwd_cnt = 5 (no separate update for 5 bytes of a 256 KiB window).
            host.Send("world!"u8);
            var p = _h.Next();
            Assert.NotNull(p);
            Assert.Equal(VsockOp.Rw, p.Value.Header.Op);
            Assert.Equal("world!", Encoding.ASCII.GetString(p.Value.Payload));
            Assert.Equal(5u, p.Value.Header.FwdCnt);
        }
    }

    [Fact]
    public void Guest_streaming_below_its_window_gets_no_credit_updates()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            // 128 KiB of a 256 KiB window: the guest still believes 128 KiB free, no interrupt owed.
            byte[] chunk = new byte[32 * 1024];
            for (int i = 0; i < 4; i++)
            {
                chunk.AsSpan().Fill((byte)i);
                _h.Send(MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, chunk));
            }
            byte[] got = ReadExactly(host, 4 * chunk.Length);
            for (int i = 0; i < 4; i++)
            {
                Assert.True(got.AsSpan(i * chunk.Length, chunk.Length).IndexOfAnyExcept((byte)i) < 0, $"chunk {i} out of order or corrupt");
            }
            Assert.Null(_h.Next(200));
        }
    }

    [Fact]
    public void Guest_near_the_end_of_its_window_gets_a_credit_update_once_drained()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            // 224 KiB sent: the guest believes 32 KiB free, less than a packet, so it is owed one.
            byte[] chunk = new byte[32 * 1024];
            for (int i = 0; i < 7; i++)
            {
                _h.Send(MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, chunk));
            }
            _ = ReadExactly(host, 7 * chunk.Length);
            VsockHeader update = _h.Expect(VsockOp.CreditUpdate);
            Assert.Equal((uint)(7 * chunk.Length), update.FwdCnt);
            Assert.Equal(262144u, update.BufAlloc);
        }
    }

    [Fact]
    public async Task Guest_filling_the_whole_window_is_never_left_without_credit()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            // Eight rounds of a full window, each sent only as the credit the updates grant: a
            // guest that honours credit never stalls, and every byte arrives in order.
            uint sent = 0;
            uint peerFwd = 0;
            const uint window = 262144;
            var reader = Task.Run(() => ReadExactly(host, (int)(8 * window)));
            for (int round = 0; round < 64; round++)
            {
                while (sent - peerFwd < window && sent < 8 * window)
                {
                    int len = (int)Math.Min(32 * 1024, window - (sent - peerFwd));
                    byte[] data = new byte[len];
                    for (int i = 0; i < len; i++)
                    {
                        data[i] = (byte)((sent + i) % 251);
                    }
                    _h.Send(MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, data));
                    sent += (uint)len;
                }
                if (sent == 8 * window)
                {
                    break;
                }
                peerFwd = _h.Expect(VsockOp.CreditUpdate).FwdCnt;
            }
            Assert.Equal(8 * window, sent);
            byte[] got = await reader;
            for (int i = 0; i < got.Length; i++)
            {
                Assert.Equal((byte)(i % 251), got[i]);
            }
        }
    }

    [Fact]
    public void HostData_RespectsGuestCredit_AndAsksForMore()
    {
        (Socket host, Socket listener) = Establish(1000, 1234, bufAlloc: 4);
        using (host)
        using (listener)
        {
            host.Send("0123456789"u8);
            var p = _h.Next();
            Assert.Equal(VsockOp.Rw, p!.Value.Header.Op);
            Assert.Equal("0123", Encoding.ASCII.GetString(p.Value.Payload));
            _h.Expect(VsockOp.CreditRequest);
            Assert.Null(_h.Next(100));

            // The guest consumed 4 bytes.
            _h.Send(MuxerHarness.Packet(VsockOp.CreditUpdate, 1000, 1234, bufAlloc: 4, fwdCnt: 4));
            p = _h.Next();
            Assert.Equal("4567", Encoding.ASCII.GetString(p!.Value.Payload));
        }
    }

    [Fact]
    public void CreditRequest_GetsCreditUpdate()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            _h.Send(MuxerHarness.Packet(VsockOp.CreditRequest, 1000, 1234));
            VsockHeader u = _h.Expect(VsockOp.CreditUpdate);
            Assert.Equal(262144u, u.BufAlloc);
            Assert.Equal(0u, u.FwdCnt);
        }
    }

    [Fact]
    public void Shutdown_BothDirections_GetsRst_AndClosesHostSocket()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            _h.Send(MuxerHarness.Packet(VsockOp.Shutdown, 1000, 1234, flags: 3));
            _h.Expect(VsockOp.Rst);
            host.ReceiveTimeout = 5000;
            Assert.Equal(0, host.Receive(new byte[8]));
            Assert.Equal(0, _h.Muxer.ConnectionCount);
        }
    }

    [Fact]
    public void HostEof_SendsShutdown_GuestRstCloses()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (listener)
        {
            host.Dispose();
            VsockHeader s = _h.Expect(VsockOp.Shutdown);
            Assert.Equal(3u, s.Flags);
            _h.Send(MuxerHarness.Packet(VsockOp.Rst, 1000, 1234));
            Assert.Equal(0, _h.Muxer.ConnectionCount);
        }
    }

    [Fact]
    public void HostEof_GuestNeverAnswers_RstAfterTimeout()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (listener)
        {
            host.Dispose();
            _h.Expect(VsockOp.Shutdown);
            VsockHeader rst = _h.Expect(VsockOp.Rst);
            Assert.Equal(1000u, rst.DstPort);
            Assert.Equal(0, _h.Muxer.ConnectionCount);
        }
    }

    [Fact]
    public void StructLayout_HeaderIs44BytesLittleEndian()
    {
        byte[] b = MuxerHarness.Packet(VsockOp.Rw, 0x11223344, 0x55667788, bufAlloc: 0x01020304, fwdCnt: 0x0a0b0c0d, flags: 3, srcCid: 0x99, dstCid: 2);
        Assert.Equal(44, VsockHeader.Size);
        Assert.Equal(0x99, b[0]);
        Assert.Equal(2, b[8]);
        Assert.Equal(0x44, b[16]);
        Assert.Equal(0x88, b[20]);
        Assert.Equal(0, b[24]);
        Assert.Equal(1, b[28]);
        Assert.Equal((byte)VsockOp.Rw, b[30]);
        Assert.Equal(3, b[32]);
        Assert.Equal(0x04, b[36]);
        Assert.Equal(0x0d, b[40]);
    }

    [Fact]
    public void GuestExceedingCredit_IsReset()
    {
        (Socket host, Socket listener) = Establish(1000, 1234);
        using (host)
        using (listener)
        {
            // Nobody reads the host socket, but the kernel buffers plenty; use packets larger
            // than our whole buffer instead: 256 KiB + 1 in one RW can never fit.
            _h.Send(MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, new byte[VmSandbox.Vsock.Muxer.VsockConnection.BufferSize + 1]));
            _h.Expect(VsockOp.Rst);
            Assert.Equal(0, _h.Muxer.ConnectionCount);
        }
    }

    public static TheoryData<string> Malformed => ["bad-type", "len-beyond-buffer", "wrong-dst-cid", "bad-op", "rw-unknown-flow", "response-unknown-flow"];

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedPacket_GetsRst(string kind)
    {
        byte[] packet = kind switch
        {
            "bad-type" => MuxerHarness.Packet(VsockOp.Request, 1000, 1234, type: 2),
            "len-beyond-buffer" => MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, "abc"u8, len: 1000),
            "wrong-dst-cid" => MuxerHarness.Packet(VsockOp.Request, 1000, 1234, dstCid: 9),
            "bad-op" => MuxerHarness.Packet((VsockOp)99, 1000, 1234),
            "rw-unknown-flow" => MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, "abc"u8),
            "response-unknown-flow" => MuxerHarness.Packet(VsockOp.Response, 1000, 1234),
            _ => throw new ArgumentException(kind),
        };
        _h.Send(packet);
        VsockHeader rst = _h.Expect(VsockOp.Rst);
        Assert.Equal(1000u, rst.DstPort);
        Assert.Equal(0, _h.Muxer.ConnectionCount);
    }

    [Theory]
    [InlineData("spoofed-src-cid")]
    [InlineData("short")]
    [InlineData("empty")]
    [InlineData("rst-unknown-flow")]
    public void IgnoredPacket_ProducesNothing(string kind)
    {
        byte[] packet = kind switch
        {
            "spoofed-src-cid" => MuxerHarness.Packet(VsockOp.Request, 1000, 1234, srcCid: 3),
            "short" => MuxerHarness.Packet(VsockOp.Request, 1000, 1234)[..43],
            "empty" => [],
            "rst-unknown-flow" => MuxerHarness.Packet(VsockOp.Rst, 1000, 1234),
            _ => throw new ArgumentException(kind),
        };
        _h.Send(packet);
        Assert.Null(_h.Next(50));
    }

    [Fact]
    public void RstQueue_IsBounded_AndTxIsHeldBackWhenFull()
    {
        for (int i = 0; i < 1000 && _h.Muxer.CanAcceptTx; i++)
        {
            _h.Send(MuxerHarness.Packet(VsockOp.Rw, (uint)i, 1234, "x"u8));
        }
        Assert.False(_h.Muxer.CanAcceptTx);
        Assert.NotNull(_h.Next(100));
        Assert.True(_h.Muxer.CanAcceptTx);
    }

    [Fact]
    public void HostInitiated_RequestResponse_ThenOkLineAndData()
    {
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        string path = Path.Combine(_h.Dir, "pair");
        server.Bind(new UnixDomainSocketEndPoint(path));
        server.Listen(1);
        using var app = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        app.Connect(new UnixDomainSocketEndPoint(path));
        Socket accepted = server.Accept();
        lock (_h.Muxer.Gate)
        {
            Assert.True(_h.Muxer.TryAddHostConnection(accepted, 52));
        }
        VsockHeader req = _h.Expect(VsockOp.Request);
        Assert.Equal(52u, req.DstPort);
        Assert.Equal(1u << 30, req.SrcPort);
        _h.Send(MuxerHarness.Packet(VsockOp.Response, 52, req.SrcPort));
        Assert.Equal($"OK {1u << 30}\n", Encoding.ASCII.GetString(ReadExactly(app, 14)));
        _h.Send(MuxerHarness.Packet(VsockOp.Rw, 52, req.SrcPort, "ping"u8));
        Assert.Equal("ping", Encoding.ASCII.GetString(ReadExactly(app, 4)));
    }

    [Fact]
    public void HostInitiated_GuestRst_ClosesHostConnection()
    {
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        string path = Path.Combine(_h.Dir, "pair");
        server.Bind(new UnixDomainSocketEndPoint(path));
        server.Listen(1);
        using var app = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        app.Connect(new UnixDomainSocketEndPoint(path));
        lock (_h.Muxer.Gate)
        {
            Assert.True(_h.Muxer.TryAddHostConnection(server.Accept(), 52));
        }
        VsockHeader req = _h.Expect(VsockOp.Request);
        _h.Send(MuxerHarness.Packet(VsockOp.Rst, 52, req.SrcPort));
        app.ReceiveTimeout = 5000;
        Assert.Equal(0, app.Receive(new byte[4]));
    }
}
