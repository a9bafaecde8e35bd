using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class AgentReadinessTests
{
    [Theory]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=2700 ready_ms=2940 modules=15")]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=2700 ready_ms=2940 modules=15\r")]
    [InlineData("\u001b[2Jvmsandbox-agent: ready version=0.1.0 started_ms=2700 ready_ms=2940 modules=15 extra=1")]
    public void Parses_the_readiness_line(string line)
    {
        AgentReadiness? r = AgentReadiness.TryParse(line);
        Assert.NotNull(r);
        Assert.Equal("0.1.0", r.Version);
        Assert.Equal(2700, r.StartedMs);
        Assert.Equal(2940, r.ReadyMs);
        Assert.Equal(15, r.Modules);
    }

    [Theory]
    [InlineData("")]
    [InlineData("vmsandbox-agent: powering off reason=x")]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=abc ready_ms=2940 modules=15")]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=3000 ready_ms=2940 modules=15")]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=-1 ready_ms=2940 modules=15")]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=1 ready_ms=2 modules=-3")]
    [InlineData("vmsandbox-agent: ready started_ms=1 ready_ms=2 modules=3")]
    [InlineData("vmsandbox-agent: ready version=0.1.0 started_ms=1 ready_ms=2 modules=99999999999999999999")]
    [InlineData("vmsandbox-agent: ready ====== = =")]
    public void Rejects_malformed_lines(string line) => Assert.Null(AgentReadiness.TryParse(line));

    [Fact]
    public void Timings_split_the_wall_time()
    {
        var r = new AgentReadiness("1", 1000, 1200, 3, "");
        BootTimings t = BootTimings.From(spawnToQmpMs: 100, spawnToReadyMs: 1800, r);
        Assert.Equal(100, t.QemuStartMs);
        Assert.Equal(500, t.FirmwareMs);
        Assert.Equal(1000, t.KernelMs);
        Assert.Equal(200, t.AgentInitMs);
        Assert.Equal(1800, t.TotalMs);
    }
}
