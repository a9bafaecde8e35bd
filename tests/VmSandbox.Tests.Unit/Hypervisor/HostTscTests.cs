using VmSandbox.Hypervisor;
using Xunit;

namespace VmSandbox.Tests.Unit.Hypervisor;

public sealed class HostTscTests
{
    private const string Invariant = "constant_tsc nonstop_tsc tsc_known_freq";

    private static string CpuInfo(string flags, string mhz) =>
        $"processor\t: 0\nmodel name\t: Some CPU\ncpu MHz\t\t: {mhz}\nflags\t\t: fpu tsc {flags} rdtscp\n\nprocessor\t: 1\ncpu MHz\t\t: 1.000\nflags\t\t: fpu\n";

    [Fact]
    public void An_invariant_tsc_of_known_rate_is_the_first_cpus_mhz() =>
        Assert.Equal(2_300_000, HostTsc.Khz(CpuInfo(Invariant, "2300.000")));

    [Fact]
    public void Fractional_mhz_round_to_khz() =>
        Assert.Equal(2_294_609, HostTsc.Khz(CpuInfo(Invariant, "2294.6088")));

    [Theory]
    [InlineData("constant_tsc nonstop_tsc")]
    [InlineData("nonstop_tsc tsc_known_freq")]
    [InlineData("constant_tsc tsc_known_freq")]
    public void A_tsc_that_may_drift_or_whose_rate_was_measured_gives_zero(string flags) =>
        Assert.Equal(0, HostTsc.Khz(CpuInfo(flags, "2300.000")));

    [Theory]
    [InlineData("")]
    [InlineData("processor\t: 0\n")]
    [InlineData("flags\t: constant_tsc nonstop_tsc tsc_known_freq\ncpu MHz\t: lots\n")]
    public void Missing_or_unreadable_fields_give_zero(string cpuinfo) =>
        Assert.Equal(0, HostTsc.Khz(cpuinfo));
}
