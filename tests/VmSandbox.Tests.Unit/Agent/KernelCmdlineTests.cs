using VmSandbox.Agent.Vm;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class KernelCmdlineTests
{
    [Theory]
    [InlineData("console=ttyS0 norandmaps quiet\n", true)]
    [InlineData("norandmaps", true)]
    [InlineData("x\tnorandmaps\ty", true)]
    [InlineData("norandmaps=1 quiet", false)]
    [InlineData("vmsandbox.norandmaps", false)]
    [InlineData("", false)]
    public void A_flag_counts_only_as_a_whole_word(string cmdline, bool has)
    {
        Assert.Equal(has, KernelCmdline.Has(cmdline, "norandmaps"));
        Assert.Equal(has, InitAddressLayout.Requested(cmdline));
    }

    [Theory]
    [InlineData("a p=7 b", 7u)]
    [InlineData("p=0 p=9", 9u)]
    [InlineData("p=-1 p=+2 p= p=x", null)]
    [InlineData("pp=5 xp=6", null)]
    public void A_number_is_the_first_positive_decimal_after_its_prefix(string cmdline, uint? expected)
    {
        Assert.Equal(expected, KernelCmdline.PositiveNumber(cmdline, "p="));
    }
}
