using VmSandbox.Cli;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Cli;

public sealed class UpdateFlagsTests
{
    private static LinuxResources? Parse(params string[] args) =>
        UpdateFlags.Parse(VerbArgs.Parse(new ArgReader(args), "update", ["resources|r", .. UpdateFlags.Names], []));

    [Theory]
    [InlineData("512", 512L)]
    [InlineData("10k", 10L * 1024)]
    [InlineData("64m", 64L * 1024 * 1024)]
    [InlineData("64MB", 64L * 1024 * 1024)]
    [InlineData("2GiB", 2L * 1024 * 1024 * 1024)]
    [InlineData("1.5g", 1536L * 1024 * 1024)]
    [InlineData("-1", -1L)]
    public void Sizes_take_dockers_units(string text, long bytes) => Assert.Equal(bytes, UpdateFlags.ParseBytes(text, "--memory"));

    [Theory]
    [InlineData("")]
    [InlineData("ten")]
    [InlineData("10x")]
    [InlineData("-2")]
    [InlineData("99999999p")]
    public void Bad_sizes_are_refused_with_the_flag_named(string text)
    {
        var e = Assert.Throws<VmSandboxException>(() => UpdateFlags.ParseBytes(text, "--memory"));
        Assert.Contains("--memory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_limits_named_are_set()
    {
        LinuxResources r = Parse("--pids-limit", "30", "ct")!;
        Assert.Equal(30, r.Pids!.Limit);
        Assert.Null(r.Memory);
        Assert.Null(r.Cpu);
        Assert.Null(r.BlockIo);
        Assert.Equal("{\"pids\":{\"limit\":30}}", SpecLoader.SerializeResources(r));
    }

    [Fact]
    public void Memory_cpu_and_blkio_flags_map_to_their_fields()
    {
        LinuxResources r = Parse("--memory", "64m", "--memory-swap=-1", "--cpu-quota", "-1", "--cpu-period", "100000",
            "--cpu-share", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--blkio-weight", "300", "ct")!;
        Assert.Equal(64L * 1024 * 1024, r.Memory!.Limit);
        Assert.Equal(-1, r.Memory.Swap);
        Assert.Null(r.Memory.Reservation);
        Assert.Equal(-1, r.Cpu!.Quota);
        Assert.Equal(100000UL, r.Cpu.Period);
        Assert.Equal(512UL, r.Cpu.Shares);
        Assert.Equal("0", r.Cpu.Cpus);
        Assert.Equal("0", r.Cpu.Mems);
        Assert.Equal((ushort)300, r.BlockIo!.Weight);
    }

    [Fact]
    public void No_limit_flag_means_none_and_bad_numbers_are_refused()
    {
        Assert.Null(Parse("ct"));
        Assert.Throws<VmSandboxException>(() => Parse("--cpu-period", "-5", "ct"));
        Assert.Throws<VmSandboxException>(() => Parse("--pids-limit", "many", "ct"));
        Assert.Throws<VmSandboxException>(() => Parse("--blkio-weight", "70000", "ct"));
        Assert.Throws<VmSandboxException>(() => Parse("--l3-cache-schema", "L3:0=f", "ct"));
    }
}
