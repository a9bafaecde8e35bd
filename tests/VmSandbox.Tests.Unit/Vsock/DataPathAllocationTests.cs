using System.Net.Sockets;
using VmSandbox.Tests.Unit.Virtio;
using VmSandbox.Vsock;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

/// <summary>The device loop's per-packet work (pop, gather, muxer, fill rx, used ring) allocates nothing.</summary>
public sealed class DataPathAllocationTests : IDisposable
{
    private readonly MuxerHarness _h = new();
    private readonly GuestRam _ram = new(1024 * 1024);
    private readonly VsockDevice _device;

    public DataPathAllocationTests()
    {
        _device = new VsockDevice(_h.Muxer, log: null);
    }

    public void Dispose()
    {
        _device.Dispose();
        _h.Dispose();
        _ram.Dispose();
    }

    [Fact]
    public void TxAndRxPackets_DoNotAllocateOnTheDeviceThread()
    {
        var rx = new RingDriver(_ram, 256, GuestRam.BaseGpa, 512 * 1024);
        var tx = new RingDriver(_ram, 256, GuestRam.BaseGpa + (512 * 1024), 512 * 1024);
        using Socket listener = _h.Listen(1234);
        lock (_h.Muxer.Gate)
        {
            foreach ((int i, RingDriver d) in new[] { (0, rx), (1, tx) })
            {
                var vring = _device.Vrings[i];
                Assert.True(vring.Queue.TrySetSize(d.Size));
                vring.Queue.SetAddresses(d.DescGpa, d.UsedGpa, d.AvailGpa);
                Assert.True(vring.Queue.TryActivate(_ram.Memory, eventIdx: true, indirectDesc: true, addressesAreVa: false));
                vring.Started = true;
                vring.Enabled = true;
            }
        }
        tx.AddReadable(MuxerHarness.Packet(VsockOp.Request, 1000, 1234));
        for (int i = 0; i < 100; i++)
        {
            rx.AddWritable(4096);
        }
        lock (_h.Muxer.Gate)
        {
            _device.Process();
        }
        using Socket host = listener.Accept();
        DateTime end = DateTime.UtcNow.AddSeconds(5);
        while (rx.UsedIdx == 0 && DateTime.UtcNow < end)
        {
            Thread.Sleep(2);
            lock (_h.Muxer.Gate)
            {
                _device.Process();
            }
        }
        Assert.Equal(1, rx.UsedIdx); // RESPONSE

        byte[] rw = MuxerHarness.Packet(VsockOp.Rw, 1000, 1234, new byte[100]);
        byte[] creditRequest = MuxerHarness.Packet(VsockOp.CreditRequest, 1000, 1234);
        byte[] unknown = MuxerHarness.Packet(VsockOp.Rw, 1001, 1234, new byte[10]);
        for (int i = 0; i < 40; i++)
        {
            tx.AddReadable(rw);
            tx.AddReadable(creditRequest);
            tx.AddReadable(unknown);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        lock (_h.Muxer.Gate)
        {
            _device.Process();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(120, tx.UsedIdx - 1);
        // 40 RSTs and one CREDIT_UPDATE (pending updates coalesce) went to rx.
        Assert.Equal(42, rx.UsedIdx);
        // Waking the connection's writer may queue one thread-pool item (~88 bytes); nothing
        // scales with the 120 packets.
        Assert.True(allocated < 512, $"{allocated} bytes allocated for 120 packets");
    }
}
