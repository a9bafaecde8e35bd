using VmSandbox.Virtio;
using Xunit;

namespace VmSandbox.Tests.Unit.Virtio;

public sealed class VirtqueueTests : IDisposable
{
    private const ushort Q = 8;
    private readonly GuestRam _ram = new(64 * 1024);
    private readonly RingDriver _driver;
    private readonly DescriptorChain _chain = new();

    public VirtqueueTests()
    {
        _driver = new RingDriver(_ram, Q, GuestRam.BaseGpa, 64 * 1024);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void DirectChain_ReadableThenWritable()
    {
        Virtqueue q = _driver.CreateQueue();
        ulong a = _driver.Alloc(10);
        ulong b = _driver.Alloc(20);
        "0123456789"u8.CopyTo(_ram.Span(a, 10));
        _driver.SetDesc(3, a, 10, RingDriver.Next, 5);
        _driver.SetDesc(5, b, 20, RingDriver.Write);
        _driver.Publish(3);

        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        Assert.Equal(3, _chain.Head);
        Assert.Equal(2, _chain.Count);
        Assert.Equal(10u, _chain.ReadableLength);
        Assert.Equal(20u, _chain.WritableLength);
        byte[] read = new byte[32];
        Assert.Equal(10, _chain.CopyReadable(read));
        Assert.Equal("0123456789"u8.ToArray(), read[..10]);
        Assert.Equal(5, _chain.WriteWritable("hello"u8));
        Assert.Equal("hello"u8.ToArray(), _ram.Span(b, 5).ToArray());

        q.AddUsed(_chain.Head, 5);
        Assert.Equal(1, _driver.UsedIdx);
        Assert.Equal((3u, 5u), _driver.Used(0));
        Assert.Equal(PopResult.Empty, q.TryPop(_chain));
    }

    [Fact]
    public void IndirectChain_IsFollowed()
    {
        Virtqueue q = _driver.CreateQueue();
        ulong table = _driver.Alloc(32);
        ulong a = _driver.Alloc(44);
        ulong b = _driver.Alloc(100);
        _driver.SetDesc(table, 0, a, 44, RingDriver.Write | RingDriver.Next, 1);
        _driver.SetDesc(table, 1, b, 100, RingDriver.Write, 0);
        _driver.SetDesc(0, table, 32, RingDriver.Indirect);
        _driver.Publish(0);

        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        Assert.Equal(2, _chain.Count);
        Assert.Equal(144u, _chain.WritableLength);
    }

    [Fact]
    public void MixedChain_DirectThenIndirect_IsFollowed()
    {
        Virtqueue q = _driver.CreateQueue();
        ulong table = _driver.Alloc(16);
        ulong a = _driver.Alloc(44);
        ulong b = _driver.Alloc(100);
        _driver.SetDesc(table, 0, b, 100, RingDriver.Write, 0);
        _driver.SetDesc(1, a, 44, RingDriver.Next, 2);
        _driver.SetDesc(2, table, 16, RingDriver.Indirect);
        _driver.Publish(1);

        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        Assert.Equal(44u, _chain.ReadableLength);
        Assert.Equal(100u, _chain.WritableLength);
    }

    public static TheoryData<string> HostileChains =>
    [
        "loop", "self-loop", "out-of-range", "overflow", "huge-length", "next-out-of-range",
        "indirect-in-indirect", "indirect-len-not-16", "indirect-zero-len", "indirect-too-long",
        "indirect-with-next", "indirect-out-of-range", "indirect-loop", "readable-after-writable",
        "gpa-below-region", "end-one-past-region",
    ];

    [Theory]
    [MemberData(nameof(HostileChains))]
    public void HostileChain_IsDroppedAndReturnedEmpty(string kind)
    {
        Virtqueue q = _driver.CreateQueue();
        ulong buf = _driver.Alloc(64);
        ulong table = _driver.Alloc(64);
        ulong end = GuestRam.BaseGpa + _ram.Size;
        switch (kind)
        {
            case "loop":
                _driver.SetDesc(0, buf, 8, RingDriver.Next, 1);
                _driver.SetDesc(1, buf, 8, RingDriver.Next, 0);
                break;
            case "self-loop":
                _driver.SetDesc(0, buf, 8, RingDriver.Next, 0);
                break;
            case "out-of-range":
                _driver.SetDesc(0, 0xdead_0000_0000, 8, 0);
                break;
            case "overflow":
                _driver.SetDesc(0, ulong.MaxValue - 4, 16, 0);
                break;
            case "huge-length":
                _driver.SetDesc(0, buf, uint.MaxValue, 0);
                break;
            case "next-out-of-range":
                _driver.SetDesc(0, buf, 8, RingDriver.Next, Q);
                break;
            case "indirect-in-indirect":
                _driver.SetDesc(table, 0, table, 16, RingDriver.Indirect, 0);
                _driver.SetDesc(0, table, 16, RingDriver.Indirect);
                break;
            case "indirect-len-not-16":
                _driver.SetDesc(table, 0, buf, 8, 0, 0);
                _driver.SetDesc(0, table, 17, RingDriver.Indirect);
                break;
            case "indirect-zero-len":
                _driver.SetDesc(0, table, 0, RingDriver.Indirect);
                break;
            case "indirect-too-long":
                _driver.SetDesc(0, table, 16 * (Q + 1), RingDriver.Indirect);
                break;
            case "indirect-with-next":
                _driver.SetDesc(table, 0, buf, 8, 0, 0);
                _driver.SetDesc(0, table, 16, RingDriver.Indirect | RingDriver.Next, 1);
                _driver.SetDesc(1, buf, 8, 0);
                break;
            case "indirect-out-of-range":
                _driver.SetDesc(0, end - 8, 16, RingDriver.Indirect);
                break;
            case "indirect-loop":
                _driver.SetDesc(table, 0, buf, 8, RingDriver.Next, 1);
                _driver.SetDesc(table, 1, buf, 8, RingDriver.Next, 0);
                _driver.SetDesc(0, table, 32, RingDriver.Indirect);
                break;
            case "readable-after-writable":
                _driver.SetDesc(0, buf, 8, RingDriver.Write | RingDriver.Next, 1);
                _driver.SetDesc(1, buf, 8, 0);
                break;
            case "gpa-below-region":
                _driver.SetDesc(0, GuestRam.BaseGpa - 8, 16, 0);
                break;
            case "end-one-past-region":
                _driver.SetDesc(0, end - 8, 9, 0);
                break;
        }
        _driver.Publish(0);

        Assert.Equal(PopResult.Empty, q.TryPop(_chain));
        Assert.False(q.IsBroken);
        Assert.Equal(1, q.DroppedChains);
        Assert.Equal((0u, 0u), _driver.Used(0));
        Assert.Equal(1, _driver.UsedIdx);
    }

    [Fact]
    public void ZeroLengthDescriptor_YieldsEmptyChain()
    {
        Virtqueue q = _driver.CreateQueue();
        _driver.SetDesc(0, _driver.Alloc(1), 0, 0);
        _driver.Publish(0);
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        Assert.Equal(0u, _chain.ReadableLength);
        Assert.Equal(0, _chain.CopyReadable(new byte[8]));
    }

    [Fact]
    public void IndirectNotNegotiated_IsDropped()
    {
        Virtqueue q = _driver.CreateQueue(indirect: false);
        ulong table = _driver.Alloc(16);
        _driver.SetDesc(table, 0, _driver.Alloc(8), 8, 0, 0);
        _driver.SetDesc(0, table, 16, RingDriver.Indirect);
        _driver.Publish(0);
        Assert.Equal(PopResult.Empty, q.TryPop(_chain));
        Assert.Equal(1, q.DroppedChains);
    }

    [Fact]
    public void AvailIdxJumpingPastQueueSize_BreaksQueue()
    {
        Virtqueue q = _driver.CreateQueue();
        _ram.W16(_driver.AvailGpa + 2, Q + 1);
        Assert.Equal(PopResult.Broken, q.TryPop(_chain));
        Assert.True(q.IsBroken);
        Assert.Equal(PopResult.Broken, q.TryPop(_chain));
        q.AddUsed(0, 0);
        Assert.Equal(0, _driver.UsedIdx);
    }

    [Fact]
    public void HeadOutOfRange_BreaksQueue()
    {
        Virtqueue q = _driver.CreateQueue();
        _driver.Publish(Q);
        Assert.Equal(PopResult.Broken, q.TryPop(_chain));
        Assert.True(q.IsBroken);
    }

    [Fact]
    public void BogusUsedIdx_IsOnlyReadAtActivation()
    {
        _ram.W16(_driver.UsedGpa + 2, 0xfff0);
        Virtqueue q = _driver.CreateQueue();
        _driver.SetDesc(0, _driver.Alloc(8), 8, 0);
        _driver.Publish(0);
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(0, 0);
        Assert.Equal(0xfff1, _driver.UsedIdx);
        // The guest scribbling over used->idx does not change where the device writes next.
        _ram.W16(_driver.UsedGpa + 2, 3);
        _driver.Publish(0);
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(0, 0);
        Assert.Equal(0xfff2, _driver.UsedIdx);
    }

    [Theory]
    [InlineData(0xdead_0000UL, false)]
    [InlineData(GuestRam.BaseGpa + 1, false)]
    [InlineData(ulong.MaxValue - 15, false)]
    [InlineData(GuestRam.BaseGpa, true)]
    public void RingAddresses_AreValidated(ulong desc, bool ok)
    {
        var q = new Virtqueue("t");
        Assert.True(q.TrySetSize(Q));
        q.SetAddresses(desc, _driver.UsedGpa, _driver.AvailGpa);
        Assert.Equal(ok, q.TryActivate(_ram.Memory, true, true, addressesAreVa: false));
        Assert.Equal(PopResult.Empty, q.TryPop(_chain) == PopResult.Broken ? PopResult.Empty : PopResult.Empty);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(65536u)]
    public void BadQueueSize_IsRejected(uint size)
    {
        Assert.False(new Virtqueue("t").TrySetSize(size));
    }

    [Fact]
    public void EventIdx_NotifiesOnlyWhenCrossingUsedEvent()
    {
        Virtqueue q = _driver.CreateQueue(eventIdx: true);
        ulong usedEventGpa = _driver.AvailGpa + 4 + (2UL * Q);
        _ram.W16(usedEventGpa, 1); // interrupt me when used idx passes 1
        for (ushort i = 0; i < 3; i++)
        {
            _driver.SetDesc(i, _driver.Alloc(8), 8, 0);
            _driver.Publish(i);
        }
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(_chain.Head, 0);
        Assert.False(q.ShouldNotify()); // used idx 1: not past used_event 1
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(_chain.Head, 0);
        Assert.True(q.ShouldNotify()); // used idx 2 crosses it
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(_chain.Head, 0);
        Assert.False(q.ShouldNotify());

        Assert.False(q.EnableNotificationAndCheck());
        Assert.Equal(3, _ram.R16(_driver.UsedGpa + 4 + (8UL * Q))); // avail_event = last avail
    }

    [Fact]
    public void NoEventIdx_HonoursNoInterruptFlag()
    {
        Virtqueue q = _driver.CreateQueue(eventIdx: false);
        _driver.SetDesc(0, _driver.Alloc(8), 8, 0);
        _driver.Publish(0);
        _driver.Publish(0);
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(0, 0);
        Assert.True(q.ShouldNotify());
        _ram.W16(_driver.AvailGpa, 1);
        Assert.Equal(PopResult.Chain, q.TryPop(_chain));
        q.AddUsed(0, 0);
        Assert.False(q.ShouldNotify());
    }
}
