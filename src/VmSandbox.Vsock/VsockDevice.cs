using System.Buffers.Binary;
using VmSandbox.Virtio;
using VmSandbox.Virtio.VhostUser;
using VmSandbox.Vsock.Muxer;

namespace VmSandbox.Vsock;

/// <summary>
/// The virtio-vsock device data path: moves packets between the guest's rx (0) and tx (1)
/// queues and the <see cref="VsockMuxer"/>. Collaborators: <see cref="VhostUserHandler"/>
/// configures the two <see cref="Vring"/>s; the event loop (VsockDevice.Loop.cs) calls
/// <see cref="Process"/> on kicks and host wake-ups. All methods run under the muxer's
/// <see cref="VsockMuxer.Gate"/>. Buffers are preallocated: no allocation per packet.
/// tx keeps being drained while rx is full, because replies wait in the muxer's pending
/// state (virtio 1.2 §5.10.6.6, the virtqueue deadlock rule).
/// </summary>
internal sealed partial class VsockDevice : IVhostUserDevice
{
    public const int RxQueue = 0;
    public const int TxQueue = 1;

    /// <summary>Largest packet we take or give: header + 64 KiB (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).</summary>
    private const int MaxPacket = VsockHeader.Size + (64 * 1024);

    private readonly byte[] _txScratch = new byte[MaxPacket];
    private readonly byte[] _rxScratch = new byte[MaxPacket];
    private readonly DescriptorChain _txChain = new();
    private readonly DescriptorChain _rxChain = new();

    /// <summary>struct virtio_vsock_config { le64 guest_cid; } (virtio 1.2 §5.10.4).</summary>
    private readonly byte[] _config = new byte[8];

    public VsockDevice(VsockMuxer muxer, Action<string>? log)
    {
        Muxer = muxer;
        Log = log;
        // QEMU hands the back-end rx (0) and tx (1); the event queue stays in QEMU.
        Vrings = [new Vring(RxQueue, "rx", log), new Vring(TxQueue, "tx", log)];
        BinaryPrimitives.WriteUInt64LittleEndian(_config, muxer.GuestCid);
    }

    public VsockMuxer Muxer { get; }

    public Vring[] Vrings { get; }

    public Action<string>? Log { get; }

    Lock IVhostUserDevice.Gate => Muxer.Gate;

    IReadOnlyList<Vring> IVhostUserDevice.Vrings => Vrings;

    ReadOnlySpan<byte> IVhostUserDevice.Config => _config;

    /// <summary>The front-end went away: connections to the old guest are dropped, the device stays usable.</summary>
    void IVhostUserDevice.Reset() => Muxer.Reset(stop: false);

    /// <summary>
    /// Drains tx, fills rx, repeats while either made progress (bounded per call, so a guest
    /// that keeps queueing cannot pin the lock), then interrupts the guest where wanted.
    /// Returns true when work was left over (the caller should come back).
    /// </summary>
    public bool Process()
    {
        bool more = false;
        for (int round = 0; round < 16; round++)
        {
            bool tx = ProcessTx(out bool txMore);
            bool rx = ProcessRx(out bool rxMore);
            more = txMore || rxMore;
            if (!tx && !rx)
            {
                break;
            }
        }
        foreach (Vring vring in Vrings)
        {
            if (vring.IsRunning)
            {
                vring.NotifyIfNeeded();
            }
        }
        return more;
    }

    private bool ProcessTx(out bool more)
    {
        more = false;
        Vring vring = Vrings[TxQueue];
        if (!vring.IsRunning)
        {
            return false;
        }
        Virtqueue q = vring.Queue;
        bool progress = false;
        for (int budget = q.Size * 2; ; budget--)
        {
            if (budget == 0)
            {
                more = true;
                break;
            }
            if (!Muxer.CanAcceptTx)
            {
                break;
            }
            PopResult r = q.TryPop(_txChain);
            if (r == PopResult.Empty && q.EnableNotificationAndCheck())
            {
                continue;
            }
            if (r != PopResult.Chain)
            {
                break;
            }
            int n = _txChain.CopyReadable(_txScratch);
            if (vring.Enabled)
            {
                // A packet longer than MaxPacket arrives truncated: its len no longer fits and
                // the muxer answers RST.
                Muxer.OnTxPacket(_txScratch.AsSpan(0, n));
            }
            // vhost-device-vsock reports used len 0 for tx: the device wrote nothing.
            q.AddUsed(_txChain.Head, 0);
            progress = true;
        }
        return progress;
    }

    private bool ProcessRx(out bool more)
    {
        more = false;
        Vring vring = Vrings[RxQueue];
        if (!vring.IsRunning || !vring.Enabled)
        {
            return false;
        }
        Virtqueue q = vring.Queue;
        bool progress = false;
        for (int budget = q.Size * 2; Muxer.HasRxWork; budget--)
        {
            if (budget == 0)
            {
                more = true;
                break;
            }
            PopResult r = q.TryPop(_rxChain);
            if (r == PopResult.Empty && q.EnableNotificationAndCheck())
            {
                continue;
            }
            if (r != PopResult.Chain)
            {
                break;
            }
            int capacity = (int)Math.Min(_rxChain.WritableLength, (uint)_rxScratch.Length);
            if (capacity < VsockHeader.Size)
            {
                // Cannot hold even a header: give it back empty rather than stall the queue.
                q.AddUsed(_rxChain.Head, 0);
                progress = true;
                continue;
            }
            int n = Muxer.FillRx(_rxScratch.AsSpan(0, capacity));
            if (n == 0)
            {
                q.UndoPop();
                break;
            }
            int written = _rxChain.WriteWritable(_rxScratch.AsSpan(0, n));
            q.AddUsed(_rxChain.Head, (uint)written);
            progress = true;
        }
        return progress;
    }
}
