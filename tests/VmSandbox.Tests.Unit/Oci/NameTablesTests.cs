using VmSandbox.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class NameTablesTests
{
    [Theory]
    [InlineData("CAP_CHOWN", 0)]
    [InlineData("CAP_KILL", 5)]
    [InlineData("CAP_NET_BIND_SERVICE", 10)]
    [InlineData("CAP_SYS_ADMIN", 21)]
    [InlineData("CAP_AUDIT_WRITE", 29)]
    [InlineData("CAP_AUDIT_READ", 37)]
    [InlineData("CAP_PERFMON", 38)]
    [InlineData("CAP_BPF", 39)]
    [InlineData("CAP_CHECKPOINT_RESTORE", 40)]
    public void Capability_numbers_match_linux(string name, int number)
    {
        Assert.True(CapabilityNames.TryGetNumber(name, out int n));
        Assert.Equal(number, n);
        Assert.Equal(name, CapabilityNames.NameOf(number));
    }

    [Theory]
    [InlineData("cap_kill")] // runc matches exactly
    [InlineData("KILL")]
    [InlineData("CAP_")]
    [InlineData("")]
    [InlineData("CAP_KILL ")]
    [InlineData("CAP_41")]
    public void Unknown_capabilities(string name)
    {
        Assert.False(CapabilityNames.TryGetNumber(name, out _));
        Assert.Equal([name], CapabilityNames.Unknown([name, "CAP_KILL", name]));
    }

    [Fact]
    public void Capability_table_has_41_distinct_entries_and_boundaries()
    {
        Assert.Equal(CapabilityNames.LastCap + 1, CapabilityNames.All.Distinct().Count());
        Assert.Null(CapabilityNames.NameOf(-1));
        Assert.Null(CapabilityNames.NameOf(41));
        Assert.Empty(CapabilityNames.Unknown(null));
    }

    [Fact]
    public void Capability_mask_skips_unknown_names()
    {
        Assert.Equal((1UL << 5) | (1UL << 40), CapabilityNames.ToMask(["CAP_KILL", "CAP_NOPE", "CAP_CHECKPOINT_RESTORE", "CAP_KILL"]));
        Assert.Equal(0UL, CapabilityNames.ToMask(null));
    }

    [Theory]
    [InlineData("RLIMIT_CPU", 0)]
    [InlineData("RLIMIT_FSIZE", 1)]
    [InlineData("RLIMIT_CORE", 4)]
    [InlineData("RLIMIT_NPROC", 6)]
    [InlineData("RLIMIT_NOFILE", 7)]
    [InlineData("RLIMIT_MEMLOCK", 8)]
    [InlineData("RLIMIT_AS", 9)]
    [InlineData("RLIMIT_MSGQUEUE", 12)]
    [InlineData("RLIMIT_RTTIME", 15)]
    public void Rlimit_numbers_match_linux(string name, int number)
    {
        Assert.True(RlimitNames.TryGetNumber(name, out int n));
        Assert.Equal(number, n);
        Assert.Equal(name, RlimitNames.NameOf(number));
    }

    [Theory]
    [InlineData("rlimit_nofile")]
    [InlineData("NOFILE")]
    [InlineData("RLIMIT_OFILE")]
    [InlineData("")]
    public void Unknown_rlimits(string name) => Assert.False(RlimitNames.TryGetNumber(name, out _));

    [Fact]
    public void Rlimit_table_boundaries()
    {
        Assert.Equal(16, RlimitNames.All.Count);
        Assert.Null(RlimitNames.NameOf(-1));
        Assert.Null(RlimitNames.NameOf(16));
    }
}
