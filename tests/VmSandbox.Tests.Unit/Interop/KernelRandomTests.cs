using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Unit.Interop;

public sealed class KernelRandomTests
{
    [Fact]
    public void Bytes_come_filled_and_differ_between_calls()
    {
        byte[] a = KernelRandom.Bytes(32);
        byte[] b = KernelRandom.Bytes(32);
        // 2^-256 of a false failure.
        Assert.NotEqual(a, b);
        Assert.Contains(a, x => x != 0);
    }

    [Fact]
    public void Below_stays_in_range_and_reaches_both_ends_of_a_small_one()
    {
        var seen = new HashSet<uint>();
        for (int i = 0; i < 2000; i++)
        {
            uint v = KernelRandom.Below(3);
            Assert.InRange(v, 0u, 2u);
            seen.Add(v);
        }
        Assert.Equal(3, seen.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelRandom.Below(0));
    }
}
