using VmSandbox.Agent.Vm;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class Pid1Tests
{
    [Fact]
    public void Mounts_devtmpfs_first_then_wires_the_console_then_the_rest()
    {
        var sys = new FakePid1System();
        new Pid1(sys).Initialize();
        var mounts = sys.Calls.Where(c => c.StartsWith("mount", StringComparison.Ordinal) || c.StartsWith("stdio", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            ["mount devtmpfs /dev", "stdio /dev/console", "mount proc /proc", "mount sysfs /sys", "mount devpts /dev/pts",
             "mount tmpfs /dev/shm", "mount tmpfs /run", "mount cgroup2 /sys/fs/cgroup"],
            mounts);
        Assert.True(sys.Calls.IndexOf("mkdir /sys/fs/cgroup") < sys.Calls.IndexOf("mount cgroup2 /sys/fs/cgroup"));
    }

    [Fact]
    public void Loads_modules_in_the_listed_order_skipping_comments_and_counts_new_ones()
    {
        var sys = new FakePid1System();
        sys.Files[Pid1.ModuleListPath] = ["# order matters", "/lib/modules/virtio_ring.ko", "", "  /lib/modules/virtio.ko  ", "/lib/modules/vsock.ko"];
        sys.LoadedAlready.Add("/lib/modules/vsock.ko");
        var pid1 = new Pid1(sys);
        pid1.Initialize();
        Assert.Equal(["insmod /lib/modules/virtio_ring.ko", "insmod /lib/modules/virtio.ko", "insmod /lib/modules/vsock.ko"],
            sys.Calls.Where(c => c.StartsWith("insmod", StringComparison.Ordinal)));
        Assert.Equal(2, pid1.ModulesLoaded);
    }

    [Fact]
    public void No_module_list_loads_nothing_and_the_agent_is_ready()
    {
        var sys = new FakePid1System();
        var pid1 = new Pid1(sys);
        pid1.Initialize();
        Assert.DoesNotContain(sys.Calls, c => c.StartsWith("insmod", StringComparison.Ordinal));
        Assert.Contains(sys.Console, l => l.Contains(" ready ", StringComparison.Ordinal) && l.Contains("modules=0", StringComparison.Ordinal));
    }

    [Fact]
    public void A_kernel_without_module_support_skips_the_list_instead_of_failing()
    {
        var sys = new FakePid1System { ModuleLoadErrno = 38 };
        sys.Files[Pid1.ModuleListPath] = ["/lib/modules/virtio_ring.ko", "/lib/modules/virtio.ko"];
        var pid1 = new Pid1(sys);
        pid1.Initialize();
        Assert.Equal(["insmod /lib/modules/virtio_ring.ko"], sys.Calls.Where(c => c.StartsWith("insmod", StringComparison.Ordinal)));
        Assert.Equal(0, pid1.ModulesLoaded);
        Assert.Contains(sys.Console, l => l.Contains("no module support", StringComparison.Ordinal));
        Assert.Contains(sys.Console, l => l.Contains(" ready ", StringComparison.Ordinal));
    }

    [Fact]
    public void Another_module_load_failure_stays_fatal()
    {
        var sys = new FakePid1System { ModuleLoadErrno = 8 };
        sys.Files[Pid1.ModuleListPath] = ["/lib/modules/virtio_ring.ko"];
        var pid1 = new Pid1(sys);
        Assert.Throws<VmSandbox.Common.VmSandboxException>(pid1.Initialize);
    }

    [Fact]
    public void Readiness_line_is_what_the_host_parses()
    {
        var sys = new FakePid1System();
        sys.Files[Pid1.ModuleListPath] = ["/lib/modules/a.ko"];
        new Pid1(sys).Initialize();
        AgentReadiness? r = AgentReadiness.TryParse(Assert.Single(sys.Console));
        Assert.NotNull(r);
        Assert.Equal(1, r.Modules);
        Assert.True(r.ReadyMs > r.StartedMs);
        Assert.Contains("cad off", sys.Calls);
    }

    [Fact]
    public void Loopback_is_up_before_the_agent_serves_after_the_modules()
    {
        var sys = new FakePid1System();
        sys.Files[Pid1.ModuleListPath] = ["/lib/modules/virtio_net.ko"];
        new Pid1(sys).Initialize();
        int lo = sys.Calls.IndexOf("lo up");
        Assert.True(lo > sys.Calls.IndexOf("insmod /lib/modules/virtio_net.ko"), string.Join(", ", sys.Calls));
    }

    [Fact]
    public void A_failing_mount_powers_the_vm_off_with_a_fatal_line()
    {
        var sys = new FakePid1System { FailMountOf = "/sys" };
        int rc = new Pid1(sys).Run();
        Assert.Equal(1, rc);
        Assert.Equal(1, sys.PowerOffs);
        Assert.Contains(sys.Console, l => l.StartsWith("vmsandbox-agent: fatal: mount /sys: no such device", StringComparison.Ordinal));
        Assert.Contains(sys.Console, l => l == "vmsandbox-agent: powering off reason=fatal error");
    }

    [Fact]
    public void Services_start_before_readiness_and_their_failure_is_not_fatal()
    {
        var sys = new FakePid1System();
        new Pid1(sys, _ => throw new Common.VmSandboxException(Common.ErrorCode.System, "socket(AF_VSOCK) port 1024: address family not supported (errno 97)")).Initialize();
        Assert.Equal("vmsandbox-agent: api unavailable: socket(AF_VSOCK) port 1024: address family not supported (errno 97)", sys.Console[0]);
        Assert.EndsWith(" api=none", sys.Console[1], StringComparison.Ordinal);
        Assert.NotNull(AgentReadiness.TryParse(sys.Console[1]));
        Assert.Equal(0, sys.PowerOffs);

        var ok = new FakePid1System();
        new Pid1(ok, _ => "vsock:1024").Initialize();
        Assert.EndsWith(" api=vsock:1024", Assert.Single(ok.Console), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_request_keeps_the_first_reason()
    {
        var pid1 = new Pid1(new FakePid1System());
        pid1.RequestShutdown("SIGTERM");
        pid1.RequestShutdown("ctrl-alt-del");
        Assert.Equal("SIGTERM", await pid1.ShutdownRequested);
    }
}
