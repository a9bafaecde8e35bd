using System.Net.Sockets;
using VmSandbox.Vsock;
using VmSandbox.Vsock.Muxer;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

/// <summary>Drives a <see cref="VsockMuxer"/> as the guest would, with Unix sockets on the host side.</summary>
internal sealed class MuxerHarness : IDisposable
{
    public const ulong GuestCid = 7;
    private readonly byte[] _rx = new byte[44 + 65536];

    public MuxerHarness()
    {
        Dir = Path.Combine(Path.GetTempPath(), "vsk-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Dir);
        UdsPath = Path.Combine(Dir, "v.sock");
        Muxer = new VsockMuxer(GuestCid, UdsPath, () => Interlocked.Increment(ref Wakes)) { ShutdownTimeout = TimeSpan.FromMilliseconds(300), ConnectTimeout = TimeSpan.FromMilliseconds(300) };
    }

    public int Wakes;

    public string Dir { get; }

    public string UdsPath { get; }

    public VsockMuxer Muxer { get; }

    public static byte[] Packet(VsockOp op, uint srcPort, uint dstPort, ReadOnlySpan<byte> payload = default,
        uint bufAlloc = 65536, uint fwdCnt = 0, uint flags = 0, ushort type = 1, ulong srcCid = GuestCid, ulong dstCid = 2, uint? len = null)
    {
        byte[] b = new byte[44 + payload.Length];
        new VsockHeader
        {
            SrcCid = srcCid,
            DstCid = dstCid,
            SrcPort = srcPort,
            DstPort = dstPort,
            Len = len ?? (uint)payload.Length,
            Type = type,
            Op = op,
            Flags = flags,
            BufAlloc = bufAlloc,
            FwdCnt = fwdCnt,
        }.Write(b);
        payload.CopyTo(b.AsSpan(44));
        return b;
    }

    public Socket Listen(uint port)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint($"{UdsPath}_{port}"));
        s.Listen(8);
        return s;
    }

    public void Send(byte[] packet)
    {
        lock (Muxer.Gate)
        {
            Muxer.OnTxPacket(packet);
        }
    }

    /// <summary>The next packet for the guest, waiting for async host work; null on timeout.</summary>
    public (VsockHeader Header, byte[] Payload)? Next(int timeoutMs = 5000, int capacity = 44 + 65536)
    {
        DateTime end = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        do
        {
            int n;
            lock (Muxer.Gate)
            {
                n = Muxer.FillRx(_rx.AsSpan(0, capacity));
            }
            if (n > 0)
            {
                Assert.True(VsockHeader.TryRead(_rx, out VsockHeader h));
                Assert.Equal(44 + (int)h.Len, n);
                return (h, _rx.AsSpan(44, (int)h.Len).ToArray());
            }
            Thread.Sleep(2);
        }
        while (DateTime.UtcNow < end);
        return null;
    }

    public VsockHeader Expect(VsockOp op, int timeoutMs = 5000)
    {
        var p = Next(timeoutMs);
        Assert.True(p.HasValue, $"expected {op}, got nothing");
        Assert.Equal(op, p.Value.Header.Op);
        Assert.Equal(2UL, p.Value.Header.SrcCid);
        Assert.Equal(GuestCid, p.Value.Header.DstCid);
        return p.Value.Header;
    }

    public void Dispose()
    {
        lock (Muxer.Gate)
        {
            Muxer.Reset(stop: true);
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
