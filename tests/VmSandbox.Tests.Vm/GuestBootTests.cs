using VmSandbox.Agent.Protocol;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>Boots the real guest under QEMU through the runtime library (TCG here, KVM where usable).</summary>
public sealed class GuestBootTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("vmsandbox-vmtest-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    private RuntimeConfig Config(string? initrd = null)
    {
        TestEnvironment.RequireBuild();
        return new RuntimeConfig
        {
            KernelPath = TestEnvironment.KernelPath,
            InitrdPath = initrd ?? TestEnvironment.InitrdPath,
            StateRoot = _state,
            BootTimeout = TimeSpan.FromSeconds(120),
        };
    }

    [Fact]
    public async Task Agent_answers_over_vsock_and_shutdown_powers_the_guest_off()
    {
        var warnings = new List<string>();
        var factory = new SandboxVmFactory(Config(), AccelDetector.ForHost(), new QemuHypervisor(), warnings.Add);
        string id = "boot-" + Guid.NewGuid().ToString("N")[..8];
        VmSpec spec = factory.CreateSpec(id, Path.Combine(_state, id));
        SandboxVm sandbox = await factory.BootAsync(spec, TestContext.Current.CancellationToken);
        int pid = sandbox.Vm.Pid;
        try
        {
            AgentReadiness ready = Assert.IsType<AgentReadiness>(sandbox.Readiness);
            Assert.StartsWith("0.1.0", ready.Version, StringComparison.Ordinal);
            // Debian's kernel loads its virtio and vsock drivers; the minimal kernel has them built in.
            if (TestEnvironment.GuestKernelPick.Kind == GuestKernelKind.Minimal)
            {
                Assert.Equal(0, ready.Modules);
            }
            else
            {
                Assert.True(ready.Modules >= 10, $"only {ready.Modules} modules loaded");
            }
            Assert.Contains(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"), p => p == pid);
            if (spec.Accel == Accelerator.Tcg)
            {
                Assert.Single(warnings, w => w.Contains("tcg", StringComparison.Ordinal) && !w.Contains('\n', StringComparison.Ordinal));
            }

            // Check and GetGuestDetails travel through our vhost-user vsock device.
            CheckResponse check = await sandbox.Agent.CheckAsync(new CheckRequest(), null, TestContext.Current.CancellationToken);
            Assert.Equal(CheckResponse.Types.ServingStatus.Serving, check.Status);
            Assert.Equal(ready.Version, check.AgentVersion);
            GuestDetails guest = await sandbox.Agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), null, TestContext.Current.CancellationToken);
            string manifest = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.GuestDir, "manifest.json"), TestContext.Current.CancellationToken);
            // "kernelRelease" (Debian's) or "minimalKernelRelease".
            Assert.Contains($"Release\": \"{guest.KernelRelease}\"", manifest, StringComparison.Ordinal);
            Assert.Equal((uint)spec.Vcpus, guest.CpuCount);
            Assert.InRange(guest.MemoryTotalBytes, 128UL << 20, (ulong)spec.MemoryMiB << 20);
            Assert.InRange(guest.MemoryAvailableBytes, 1UL, guest.MemoryTotalBytes);
            Assert.True(guest.UptimeNano > (ulong)(ready.ReadyMs * 1e6));

            StopOutcome outcome = await sandbox.ShutdownAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            Assert.Equal(StopOutcome.GuestPoweredOff, outcome);
            string console = await File.ReadAllTextAsync(spec.ConsoleLogPath, TestContext.Current.CancellationToken);
            Assert.Contains("vmsandbox-agent: powering off reason=shutdown rpc", console, StringComparison.Ordinal);
        }
        finally
        {
            await sandbox.DisposeAsync();
        }
        Assert.Empty(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));
        Assert.Empty(Directory.GetFiles(spec.StateDir, "*.sock*"));
    }

    [Fact]
    public async Task Ctrl_alt_del_from_the_host_powers_the_guest_off()
    {
        var factory = new SandboxVmFactory(Config(), AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        string id = "cad-" + Guid.NewGuid().ToString("N")[..8];
        VmSpec spec = factory.CreateSpec(id, Path.Combine(_state, id));
        await using (SandboxVm sandbox = await factory.BootAsync(spec, TestContext.Current.CancellationToken))
        {
            // The hypervisor-level path, used when the agent API does not answer.
            Assert.Equal(StopOutcome.GuestPoweredOff, await sandbox.Vm.StopAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        }
        string console = await File.ReadAllTextAsync(spec.ConsoleLogPath, TestContext.Current.CancellationToken);
        Assert.Contains("vmsandbox-agent: powering off reason=ctrl-alt-del", console, StringComparison.Ordinal);
        Assert.Empty(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));
    }

    [Fact]
    public async Task A_failing_agent_powers_the_vm_off_and_the_host_reports_why()
    {
        // Overlay the initramfs with a module list naming a module that does not exist: PID 1
        // fails during init and must end the VM instead of hanging it.
        string initrd = Path.Combine(_state, "broken-initramfs.img");
        await using (var f = File.Create(initrd))
        {
            await f.WriteAsync(await File.ReadAllBytesAsync(TestEnvironment.InitrdPath, TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);
            await f.WriteAsync(TestEnvironment.NewcArchive("lib/modules/vmsandbox.load", "/lib/modules/missing.ko\n"), TestContext.Current.CancellationToken);
        }
        var factory = new SandboxVmFactory(Config(initrd), AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        string id = "crash-" + Guid.NewGuid().ToString("N")[..8];
        VmSpec spec = factory.CreateSpec(id, Path.Combine(_state, id));

        var e = await Assert.ThrowsAsync<VmSandbox.Common.VmSandboxException>(() => factory.BootAsync(spec, TestContext.Current.CancellationToken));

        string message = VmSandbox.Common.VmSandboxException.FormatChain(e);
        Assert.Contains($"guest agent of {id} failed: open /lib/modules/missing.ko: no such file or directory (errno 2)", message, StringComparison.Ordinal);
        Assert.Empty(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));
        string console = await File.ReadAllTextAsync(spec.ConsoleLogPath, TestContext.Current.CancellationToken);
        Assert.Contains("vmsandbox-agent: powering off reason=fatal error", console, StringComparison.Ordinal);
    }
}
