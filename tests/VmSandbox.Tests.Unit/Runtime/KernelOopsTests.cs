using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class KernelOopsTests
{
    [Fact]
    public void The_first_failure_and_its_rip_are_reported_without_timestamps()
    {
        var oops = new AgentReadinessWatcher.KernelOops();
        foreach (string line in new[]
        {
            "[    0.700000] virtio-mmio: Registering device virtio-mmio.0",
            "[    0.710000] BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "[    0.710100] #PF: supervisor read access in kernel mode",
            "[    0.711000] RIP: 0010:vp_find_vqs+0x1a/0x1c0",
            "[    0.712000] RIP: 0010:other+0x1/0x2",
            "[    0.715000] WARNING: CPU: 0 PID: 1 at later",
            "[    0.720252]  </TASK>",
        })
        {
            oops.Observe(line);
        }
        Assert.Equal("\"BUG: kernel NULL pointer dereference, address: 0000000000000008\" at \"RIP: 0010:vp_find_vqs+0x1a/0x1c0\"", oops.Describe());
    }

    [Fact]
    public void A_clean_console_has_nothing_to_report()
    {
        var oops = new AgentReadinessWatcher.KernelOops();
        oops.Observe("[    0.704858] Run /init as init process");
        oops.Observe("RIP: not after a failure");
        Assert.Null(oops.Describe());
    }

    [Fact]
    public void A_panic_without_a_rip_is_reported_alone()
    {
        var oops = new AgentReadinessWatcher.KernelOops();
        oops.Observe("[    1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100");
        Assert.Equal("\"Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\"", oops.Describe());
    }
}
