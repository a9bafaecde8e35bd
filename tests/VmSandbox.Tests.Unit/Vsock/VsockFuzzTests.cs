using System.Net.Sockets;
using VmSandbox.Tests.Unit.Fuzzing;
using VmSandbox.Tests.Unit.Virtio;
using VmSandbox.Virtio.VhostUser;
using VmSandbox.Vsock;
using VmSandbox.Vsock.Muxer;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

/// <summary>
/// Fuzzing (Fuzzing/Fuzzer.cs) of everything the guest controls in our vsock device: ring
/// layouts, descriptor chains and packet headers. Guest RAM sits between guard pages, so an
/// access outside it would crash the run; the device must never throw.
/// </summary>
public sealed class VsockFuzzTests : IDisposable
{
    private const ushort Q = 16;
    private const ulong RamSize = 256 * 1024;
    private readonly MuxerHarness _h = new();
    private readonly GuestRam _ram = new(RamSize);
    private readonly VsockDevice _device;
    private readonly Socket _listener;

    public VsockFuzzTests()
    {
        _device = new VsockDevice(_h.Muxer, log: null);
        _listener = _h.Listen(5);
        _ = DrainAcceptsAsync();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _device.Dispose();
        _h.Dispose();
        _ram.Dispose();
    }

    private async Task DrainAcceptsAsync()
    {
        try
        {
            while (true)
            {
                Socket s = await _listener.AcceptAsync();
                _ = Task.Run(async () =>
                {
                    using (s)
                    {
                        byte[] b = new byte[4096];
                        while (await s.ReceiveAsync(b) > 0)
                        {
                        }
                    }
                });
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private RingDriver Ring(int index) => new(_ram, Q, GuestRam.BaseGpa + ((ulong)index * 64 * 1024), 64 * 1024);

    private void Activate(Vring vring, RingDriver d, Random rnd)
    {
        vring.Queue.TrySetSize(Q);
        vring.Queue.SetAddresses(d.DescGpa, d.UsedGpa, d.AvailGpa);
        vring.Queue.TryActivate(_ram.Memory, eventIdx: rnd.Next(2) == 0, indirectDesc: true, addressesAreVa: false);
        vring.Started = true;
        vring.Enabled = true;
    }

    private static ulong PickAddr(Random rnd, ulong validBase)
    {
        return rnd.Next(10) switch
        {
            0 => 0,
            1 => ulong.MaxValue - (ulong)rnd.Next(64),
            2 => GuestRam.BaseGpa + RamSize - (ulong)rnd.Next(64),
            3 => GuestRam.BaseGpa - (ulong)rnd.Next(1, 64),
            4 => (ulong)rnd.NextInt64(),
            _ => validBase + (ulong)rnd.Next(0, 60 * 1024),
        };
    }

    private static uint PickLen(Random rnd)
    {
        return rnd.Next(8) switch
        {
            0 => 0,
            1 => uint.MaxValue,
            2 => (uint)rnd.Next(1, 44),
            3 => 16u * (uint)rnd.Next(0, 40),
            4 => (uint)rnd.Next(),
            _ => (uint)rnd.Next(44, 4096),
        };
    }

    private static byte[] RandomPacket(Random rnd)
    {
        var op = (VsockOp)(rnd.Next(10) == 0 ? rnd.Next(0, 20) : rnd.Next(1, 8));
        byte[] payload = new byte[rnd.Next(4) == 0 ? rnd.Next(0, 300) : 0];
        rnd.NextBytes(payload);
        return MuxerHarness.Packet(op, (uint)rnd.Next(1000, 1004), (uint)rnd.Next(3, 7), payload,
            bufAlloc: rnd.Next(3) == 0 ? (uint)rnd.Next() : 65536, fwdCnt: (uint)rnd.Next(0, 100), flags: (uint)rnd.Next(0, 4),
            type: (ushort)(rnd.Next(8) == 0 ? rnd.Next(0, 4) : 1), srcCid: rnd.Next(10) == 0 ? 3UL : MuxerHarness.GuestCid,
            dstCid: rnd.Next(10) == 0 ? 5UL : 2UL, len: rnd.Next(10) == 0 ? (uint?)rnd.Next() : null);
    }

    /// <summary>
    /// Each input is a program of choices (<see cref="ByteRandom"/>): descriptors, indirect
    /// tables, avail and used indexes, packet headers, written into guest RAM before the device
    /// processes its queues. The device runs on across inputs, as across a guest's life, and a
    /// broken ring is reset as a guest reset would.
    /// </summary>
    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Rings_and_descriptor_chains()
    {
        var target = new FuzzTarget("vsock rings and descriptor chains",
            "mutated programs that write descriptor chains (bogus addresses and lengths, loops, indirect tables), avail and used indexes and packet headers into the guest RAM of our vhost-user vsock device, which then processes its queues",
            "the device never throws and never touches memory outside guest RAM (guard pages on both sides); bad rings are marked broken, bad chains dropped; at most 1024 connections")
        {
            Seeds = FuzzSeeds.RandomPrograms(16, 1024, 20240611),
            ExpectBothOutcomes = false,
            IsDocumented = _ => false,
            DefaultIterations = 4000,
        };
        RingDriver rx = Ring(0);
        RingDriver tx = Ring(1);
        lock (_h.Muxer.Gate)
        {
            Activate(_device.Vrings[0], rx, new Random(1));
            Activate(_device.Vrings[1], tx, new Random(2));
        }
        int broken = 0;
        long dropped = 0;
        FuzzReport report = Fuzzer.Run(target, input =>
        {
            var rnd = new ByteRandom(input);
            ushort usedBefore = (ushort)(tx.UsedIdx + rx.UsedIdx);
            for (int step = 0; step < 8 && !rnd.Exhausted; step++)
            {
                (int b, long d) = Step(rnd, rx, tx);
                broken += b;
                dropped = Math.Max(dropped, d);
            }
            if (_h.Muxer.ConnectionCount > VsockMuxer.MaxConnections)
            {
                throw new InvalidDataException($"{_h.Muxer.ConnectionCount} connections");
            }
            return (ushort)(tx.UsedIdx + rx.UsedIdx) != usedBefore;
        });
        report.RecordAndAssert();
        // The run really exercised the rejection paths, and some chains still went through.
        Assert.True(broken > 0, "no ring was ever broken");
        Assert.True(dropped > 0, "no chain was ever dropped");
        Assert.True(report.Accepted > 0, "no chain was ever used");
    }

    /// <summary>Raw packets from the guest, straight into the muxer: every header field and length mutated.</summary>
    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Packets()
    {
        var target = new FuzzTarget("vsock packets",
            "mutated vsock packets (every op, CIDs, ports, type, flags, credit fields, lengths against the payload) from the guest, straight into VsockMuxer.OnTxPacket with the host listening on port 5",
            "each packet is taken or dropped (or answered with RST); the muxer never throws; at most 1024 connections")
        {
            Seeds =
            [
                MuxerHarness.Packet(VsockOp.Request, 1000, 5),
                MuxerHarness.Packet(VsockOp.Rw, 1000, 5, "hello"u8),
                MuxerHarness.Packet(VsockOp.CreditUpdate, 1000, 5, fwdCnt: 5),
                MuxerHarness.Packet(VsockOp.CreditRequest, 1000, 5),
                MuxerHarness.Packet(VsockOp.Shutdown, 1000, 5, flags: 3),
                MuxerHarness.Packet(VsockOp.Rst, 1000, 5),
                MuxerHarness.Packet(VsockOp.Response, 1001, 1024),
            ],
            IsDocumented = _ => false,
            DefaultIterations = 6000,
        };
        byte[] rxBuffer = new byte[44 + 4096];
        Fuzzer.Run(target, input =>
        {
            int answered;
            lock (_h.Muxer.Gate)
            {
                _h.Muxer.OnTxPacket(input);
                answered = _h.Muxer.FillRx(rxBuffer);
                if (_h.Muxer.ConnectionCount > VsockMuxer.MaxConnections)
                {
                    throw new InvalidDataException($"{_h.Muxer.ConnectionCount} connections");
                }
            }
            return answered > 0;
        }).RecordAndAssert();
    }

    /// <summary>One step of a ring program; returns the rings it found broken and the most chains dropped.</summary>
    private (int Broken, long Dropped) Step(Random rnd, RingDriver rx, RingDriver tx)
    {
        int broken = 0;
        long dropped = 0;
        ulong rxData = GuestRam.BaseGpa + (2UL * 64 * 1024);
        ulong txData = GuestRam.BaseGpa + (3UL * 64 * 1024);
        // A plausible tx packet in a buffer, then a random descriptor pointing near it.
        byte[] packet = RandomPacket(rnd);
        ulong at = txData + (ulong)rnd.Next(0, 60 * 1024 - packet.Length);
        packet.CopyTo(_ram.Span(at, packet.Length));
        for (int k = rnd.Next(1, 4); k > 0; k--)
        {
            RingDriver d = rnd.Next(2) == 0 ? tx : rx;
            ulong basis = d == tx ? at : rxData;
            ushort flags = (ushort)(rnd.Next(4) == 0 ? rnd.Next(0, 8) : (d == rx ? RingDriver.Write : 0));
            d.SetDesc(rnd.Next(Q), rnd.Next(3) == 0 ? PickAddr(rnd, basis) : basis, rnd.Next(3) == 0 ? PickLen(rnd) : (uint)packet.Length,
                flags, (ushort)rnd.Next(0, Q + 2));
        }
        // Occasionally an indirect table with random content.
        if (rnd.Next(8) == 0)
        {
            ulong table = rxData + (ulong)rnd.Next(0, 32 * 1024) / 16 * 16;
            for (int i = 0; i < 4; i++)
            {
                rx.SetDesc(table, i, PickAddr(rnd, rxData), PickLen(rnd), (ushort)rnd.Next(0, 8), (ushort)rnd.Next(0, 6));
            }
            rx.SetDesc(rnd.Next(Q), table, (uint)(16 * rnd.Next(0, 6) + (rnd.Next(4) == 0 ? 1 : 0)), RingDriver.Indirect, 0);
        }
        // Publish heads; sometimes bogus heads or avail idx jumps, or scribble on the used ring.
        RingDriver p = rnd.Next(2) == 0 ? tx : rx;
        switch (rnd.Next(12))
        {
            case 0:
                p.AvailIdx += (ushort)rnd.Next(Q, 1000);
                _ram.W16(p.AvailGpa + 2, p.AvailIdx);
                break;
            case 1:
                p.Publish((ushort)rnd.Next(Q, ushort.MaxValue));
                break;
            case 2:
                _ram.W16(p.UsedGpa + 2, (ushort)rnd.Next());
                _ram.W16(p.AvailGpa + 4 + (2 * Q), (ushort)rnd.Next());
                break;
            default:
                p.Publish((ushort)rnd.Next(Q));
                break;
        }
        lock (_h.Muxer.Gate)
        {
            _device.Process();
            // Keep fuzzing after a ring broke, as a guest reset would.
            for (int i = 0; i < 2; i++)
            {
                if (_device.Vrings[i].Queue.IsBroken)
                {
                    broken++;
                    dropped = Math.Max(dropped, _device.Vrings[i].Queue.DroppedChains);
                    RingDriver d = i == 0 ? rx : tx;
                    d.AvailIdx = 0;
                    _ram.W16(d.AvailGpa + 2, 0);
                    _ram.W16(d.UsedGpa + 2, 0);
                    _device.Vrings[i].Queue.SetBase(0);
                    Activate(_device.Vrings[i], d, rnd);
                }
            }
        }
        // Raw header fuzzing straight into the muxer as well.
        byte[] raw = RandomPacket(rnd);
        if (rnd.Next(4) == 0)
        {
            rnd.NextBytes(raw.AsSpan(0, rnd.Next(0, raw.Length)));
        }
        lock (_h.Muxer.Gate)
        {
            _h.Muxer.OnTxPacket(raw.AsSpan(0, rnd.Next(0, raw.Length + 1)));
            _h.Muxer.FillRx(new byte[rnd.Next(0, 200)]);
        }
        return (broken, dropped);
    }
}
