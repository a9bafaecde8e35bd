using System.Net.Sockets;
using System.Text;
using VmSandbox.Interop;
using VmSandbox.Runtime.Vsock;
using VmSandbox.Tests.Unit.Virtio;
using VmSandbox.Virtio.VhostUser;
using VmSandbox.Vsock;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

public sealed class VhostUserBackendTests : IDisposable
{
    private const ulong Cid = 9;
    private readonly string _dir;
    private readonly VsockBackendOptions _options;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _log = new();

    public VhostUserBackendTests()
    {
        _dir = Path.Combine(Path.GetTempPath(), "vsb-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        _options = new VsockBackendOptions
        {
            SocketPath = Path.Combine(_dir, "vhost.sock"),
            UdsPath = Path.Combine(_dir, "v.sock"),
            GuestCid = Cid,
            Log = _log.Enqueue,
        };
    }

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Pkt(VsockOp op, uint src, uint dst, ReadOnlySpan<byte> payload = default, uint fwd = 0)
    {
        return MuxerHarness.Packet(op, src, dst, payload, fwdCnt: fwd, srcCid: Cid);
    }

    private static int CountMaps(string memfdName)
    {
        return File.ReadAllLines("/proc/self/maps").Count(l => l.Contains($"memfd:{memfdName}", StringComparison.Ordinal));
    }

    /// <summary>Counts our open fds on the eventfd whose counter holds <paramref name="marker"/>.</summary>
    private static int CountEventFds(ulong marker)
    {
        int n = 0;
        foreach (string f in Directory.GetFiles("/proc/self/fdinfo"))
        {
            try
            {
                // fs/eventfd.c: "eventfd-count: %16llx".
                foreach (string line in File.ReadAllLines(f))
                {
                    if (line.StartsWith("eventfd-count:", StringComparison.Ordinal)
                        && ulong.Parse(line["eventfd-count:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber) == marker)
                    {
                        n++;
                    }
                }
            }
            catch (IOException)
            {
            }
        }
        return n;
    }

    private static byte[] ReadExactly(Socket s, int n)
    {
        s.ReceiveTimeout = 5000;
        byte[] b = new byte[n];
        for (int got = 0; got < n;)
        {
            int r = s.Receive(b, got, n - got, SocketFlags.None);
            Assert.NotEqual(0, r);
            got += r;
        }
        return b;
    }

    [Theory]
    [InlineData("vhost.sock")]
    [InlineData("v.sock")]
    public void A_file_that_is_not_a_socket_where_a_socket_goes_is_refused_and_kept(string name)
    {
        // Issue 15: the back-end deleted whatever was at its socket paths.
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, "not ours");
        var e = Assert.Throws<VmSandbox.Common.VmSandboxException>(() => VhostUserVsockBackend.Start(_options).DisposeAsync().AsTask().Wait(TestContext.Current.CancellationToken));
        Assert.Contains("is not a socket", VmSandbox.Common.VmSandboxException.FormatChain(e));
        Assert.Equal("not ours", File.ReadAllText(path));
    }

    [Fact]
    public async Task FullSession_GuestToHostAndHostToGuest_ThenDisconnectReleasesEverything()
    {
        string ramName = "vsock-test-ram-" + Guid.NewGuid().ToString("N")[..6];
        await using VhostUserVsockBackend backend = VhostUserVsockBackend.Start(_options);
        using var guest = new GuestSide(ramName);
        using SafeFd err = EventFd.Create();
        const ulong marker = 0x5eed_c0de;
        // Give the err eventfd a recognisable counter so we can find every fd on it later.
        WriteCounter(err, marker);

        using (var qemu = new FakeFrontEnd(_options.SocketPath))
        {
            qemu.Negotiate(Cid);
            guest.Start(qemu, err);
            Assert.Equal(2, CountMaps(ramName));
            Assert.Equal(2, CountEventFds(marker));
            guest.PostRxBuffers(16);

            // Guest → host: REQUEST to CID 2 port 1234 bridges to <uds>_1234.
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(_options.UdsPath + "_1234"));
            listener.Listen(1);
            guest.Send(Pkt(VsockOp.Request, 1000, 1234));
            using Socket host = listener.Accept();
            (VsockHeader resp, _) = guest.Receive();
            Assert.Equal(VsockOp.Response, resp.Op);
            Assert.Equal(Cid, resp.DstCid);
            guest.Send(Pkt(VsockOp.Rw, 1000, 1234, "hello"u8));
            Assert.Equal("hello", Encoding.ASCII.GetString(ReadExactly(host, 5)));
            host.Send("world"u8);
            (VsockHeader rw, byte[] data) = guest.Receive(VsockOp.Rw);
            Assert.Equal("world", Encoding.ASCII.GetString(data));
            Assert.Equal(1234u, rw.SrcPort);

            // Host → guest: CONNECT 52 through the hybrid socket.
            Task<Socket> connect = HybridVsockConnector.ConnectAsync(_options.UdsPath, 52, DateTimeOffset.UtcNow.AddSeconds(10), TestContext.Current.CancellationToken);
            (VsockHeader req, _) = guest.Receive(VsockOp.Request);
            Assert.Equal(52u, req.DstPort);
            guest.Send(Pkt(VsockOp.Response, 52, req.SrcPort));
            using Socket app = await connect;
            guest.Send(Pkt(VsockOp.Rw, 52, req.SrcPort, "from guest"u8));
            Assert.Equal("from guest", Encoding.ASCII.GetString(ReadExactly(app, 10)));
            app.Send("from host"u8);
            (_, data) = guest.Receive(VsockOp.Rw);
            Assert.Equal("from host", Encoding.ASCII.GetString(data));

            // Stop the rings as QEMU does: GET_VRING_BASE reports the next avail index.
            Assert.Equal(guest.Tx.AvailIdx, qemu.GetVringBase(1));
            Assert.Equal(guest.Rx.AvailIdx - (uint)(16 - guest.Rx.UsedIdx), qemu.GetVringBase(0));
        }

        // QEMU went away: the back-end stops, unmaps guest RAM and closes every fd it got.
        await backend.Completion.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(1, CountMaps(ramName));
        Assert.Equal(1, CountEventFds(marker));
        Assert.False(File.Exists(_options.SocketPath));
    }

    [Fact]
    public async Task GuestReboot_NewMemTableAndRings_Work_AndOldMappingIsReleased()
    {
        await using VhostUserVsockBackend backend = VhostUserVsockBackend.Start(_options);
        using var qemu = new FakeFrontEnd(_options.SocketPath);
        qemu.Negotiate(Cid);
        string first = "vsock-boot1-" + Guid.NewGuid().ToString("N")[..6];
        string second = "vsock-boot2-" + Guid.NewGuid().ToString("N")[..6];
        using (var guest = new GuestSide(first))
        {
            guest.Start(qemu);
            guest.PostRxBuffers(4);
            guest.Send(Pkt(VsockOp.Request, 1000, 4321));
            Assert.Equal(VsockOp.Rst, guest.Receive().Header.Op);
            qemu.SendState(VhostUserRequest.SetVringEnable, 0, 0);
            qemu.SendState(VhostUserRequest.SetVringEnable, 1, 0);
            qemu.GetVringBase(0);
            qemu.GetVringBase(1);
        }
        using (var guest = new GuestSide(second))
        {
            qemu.SendU64(VhostUserRequest.SetFeatures, VhostUserFeatures.Offered);
            guest.Start(qemu);
            Assert.Equal(0, CountMaps(first));
            guest.PostRxBuffers(4);
            guest.Send(Pkt(VsockOp.Request, 1000, 4321));
            Assert.Equal(VsockOp.Rst, guest.Receive().Header.Op);
        }
        qemu.Dispose();
        await backend.Completion.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(0, CountMaps(second));
    }

    [Theory]
    [InlineData("unknown-request")]
    [InlineData("bad-version")]
    [InlineData("huge-payload")]
    [InlineData("vring-index")]
    [InlineData("bad-queue-size")]
    [InlineData("mem-table-without-fd")]
    [InlineData("features-not-offered")]
    [InlineData("mem-table-region-beyond-file")]
    public async Task ProtocolViolation_ClosesConnection_AndStopsBackend(string kind)
    {
        await using VhostUserVsockBackend backend = VhostUserVsockBackend.Start(_options);
        using var qemu = new FakeFrontEnd(_options.SocketPath);
        switch (kind)
        {
            case "unknown-request":
                qemu.Send((VhostUserRequest)99, []);
                break;
            case "bad-version":
                qemu.Send(VhostUserRequest.SetOwner, [], flags: 2);
                break;
            case "huge-payload":
                qemu.Send(VhostUserRequest.SetOwner, new byte[5000]);
                break;
            case "vring-index":
                qemu.SendState(VhostUserRequest.SetVringNum, 2, 128);
                break;
            case "bad-queue-size":
                qemu.SendState(VhostUserRequest.SetVringNum, 0, 100);
                break;
            case "mem-table-without-fd":
                byte[] p = new byte[40];
                p[0] = 1;
                p[16] = 1;
                qemu.Send(VhostUserRequest.SetMemTable, p);
                break;
            case "mem-table-region-beyond-file":
                using (SafeFd small = MemFd.Create("vsock-small", 4096))
                {
                    byte[] t = new byte[40];
                    t[0] = 1;
                    BitConverter.GetBytes(8192UL).CopyTo(t, 16);
                    qemu.Send(VhostUserRequest.SetMemTable, t, 1, small.Fd);
                }
                break;
            case "features-not-offered":
                qemu.SendU64(VhostUserRequest.SetFeatures, 1UL << 34);
                break;
        }
        await backend.Completion.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(qemu.IsClosedByPeer());
        Assert.Contains(_log, l => l.StartsWith("vsock back-end: vhost-user: ", StringComparison.Ordinal));
        if (kind == "mem-table-region-beyond-file")
        {
            Assert.Contains(_log, l => l.Contains("its fd has", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task RingAddressesOutsideGuestMemory_RingStaysOff_BackendKeepsServing()
    {
        await using VhostUserVsockBackend backend = VhostUserVsockBackend.Start(_options);
        using var qemu = new FakeFrontEnd(_options.SocketPath);
        qemu.Negotiate(Cid);
        using var guest = new GuestSide("vsock-badring-" + Guid.NewGuid().ToString("N")[..6]);
        qemu.SetMemTable(guest.MemFd, GuestSide.RamSize);
        byte[] addr = new byte[40];
        BitConverter.GetBytes(0xdead_0000_0000UL).CopyTo(addr, 8);
        BitConverter.GetBytes(ulong.MaxValue - 7).CopyTo(addr, 16);
        BitConverter.GetBytes(GuestRam.UserBase + GuestSide.RamSize - 2).CopyTo(addr, 24);
        qemu.SendState(VhostUserRequest.SetVringNum, 1, 128);
        qemu.Send(VhostUserRequest.SetVringAddr, addr);
        qemu.SendU64(VhostUserRequest.SetVringKick, 1, 1, guest.TxKick.Fd);
        // NOFD (bit 8): no call fd, the ring is polled by the front-end's rules.
        qemu.SendU64(VhostUserRequest.SetVringCall, 1 | 0x100);
        qemu.SendState(VhostUserRequest.SetVringEnable, 1, 1);
        EventFd.Signal(guest.TxKick);
        qemu.Sync();
        Assert.Equal(0u, qemu.GetVringBase(1));
        Assert.Contains(_log, l => l.Contains("vring 1 addresses are invalid", StringComparison.Ordinal));
        Assert.False(backend.Completion.IsCompleted);
    }

    [Fact]
    public async Task GetConfig_OutOfRange_RepliesEmpty()
    {
        await using VhostUserVsockBackend backend = VhostUserVsockBackend.Start(_options);
        using var qemu = new FakeFrontEnd(_options.SocketPath);
        byte[] config = new byte[12 + 16];
        config[4] = 16;
        qemu.Send(VhostUserRequest.GetConfig, config);
        Assert.Empty(qemu.ReadReply(VhostUserRequest.GetConfig));
    }

    [Fact]
    public void Start_RejectsReservedCid()
    {
        Assert.Throws<VmSandbox.Common.VmSandboxException>(() =>
            VhostUserVsockBackend.Start(new VsockBackendOptions { SocketPath = _options.SocketPath, UdsPath = _options.UdsPath, GuestCid = 2 }));
    }

    [Fact]
    public async Task Dispose_BeforeQemuConnects_Completes()
    {
        VhostUserVsockBackend backend = VhostUserVsockBackend.Start(_options);
        await backend.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(backend.Completion.IsCompleted);
        Assert.False(File.Exists(_options.UdsPath));
    }

    private static unsafe void WriteCounter(SafeFd fd, ulong value)
    {
        byte[] b = BitConverter.GetBytes(value);
        using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd.DangerousGetHandle(), ownsHandle: false), FileAccess.Write, 1);
        stream.Write(b);
    }
}
