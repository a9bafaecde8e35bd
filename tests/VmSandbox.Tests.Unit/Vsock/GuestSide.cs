using VmSandbox.Interop;
using VmSandbox.Tests.Unit.Virtio;
using VmSandbox.Vsock;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

/// <summary>The guest's virtio-vsock driver, simulated: rx/tx rings in memfd RAM plus kick/call eventfds.</summary>
internal sealed class GuestSide : IDisposable
{
    public const ulong RamSize = 1024 * 1024;
    private readonly Queue<(VsockHeader, byte[])> _received = new();

    public GuestSide(string name)
    {
        MemFd = VmSandbox.Interop.MemFd.Create(name, RamSize);
        Ram = new GuestRam(MemFd, RamSize);
        Rx = new RingDriver(Ram, 128, GuestRam.BaseGpa, 256 * 1024);
        Tx = new RingDriver(Ram, 128, GuestRam.BaseGpa + (256 * 1024), 256 * 1024);
    }

    public SafeFd MemFd { get; }

    public GuestRam Ram { get; }

    public RingDriver Rx { get; }

    public RingDriver Tx { get; }

    public SafeFd RxKick { get; } = EventFd.Create();

    public SafeFd TxKick { get; } = EventFd.Create();

    public SafeFd RxCall { get; } = EventFd.Create();

    public SafeFd TxCall { get; } = EventFd.Create();

    public void Start(FakeFrontEnd qemu, SafeFd? err = null)
    {
        qemu.SetMemTable(MemFd, RamSize);
        qemu.StartRing(0, Rx, RxKick, RxCall, err);
        qemu.StartRing(1, Tx, TxKick, TxCall);
        qemu.Sync();
    }

    public void PostRxBuffers(int count)
    {
        for (int i = 0; i < count; i++)
        {
            Rx.AddWritable(4096);
        }
        EventFd.Signal(RxKick);
    }

    public void Send(byte[] packet)
    {
        Tx.AddReadable(packet);
        EventFd.Signal(TxKick);
    }

    public (VsockHeader Header, byte[] Payload) Receive(int timeoutMs = 5000)
    {
        DateTime end = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (_received.Count == 0)
        {
            foreach ((uint id, uint len) in Rx.TakeUsed())
            {
                byte[] bytes = Rx.ReadChain((ushort)id, len);
                Assert.True(VsockHeader.TryRead(bytes, out VsockHeader h));
                _received.Enqueue((h, bytes[44..]));
            }
            if (_received.Count == 0)
            {
                Assert.True(DateTime.UtcNow < end, "no rx packet from the device");
                Thread.Sleep(2);
            }
        }
        return _received.Dequeue();
    }

    /// <summary>Receives until a packet with <paramref name="op"/> arrives (skipping credit updates).</summary>
    public (VsockHeader Header, byte[] Payload) Receive(VsockOp op)
    {
        while (true)
        {
            var p = Receive();
            if (p.Header.Op == op)
            {
                return p;
            }
            Assert.Equal(VsockOp.CreditUpdate, p.Header.Op);
        }
    }

    public void Dispose()
    {
        Ram.Dispose();
        MemFd.Dispose();
        RxKick.Dispose();
        TxKick.Dispose();
        RxCall.Dispose();
        TxCall.Dispose();
    }
}
