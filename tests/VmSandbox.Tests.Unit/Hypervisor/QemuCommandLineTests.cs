using VmSandbox.Hypervisor;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Hypervisor.Qemu;
using Xunit;

namespace VmSandbox.Tests.Unit.Hypervisor;

public sealed class QemuCommandLineTests
{
    private static VmSpec Spec(Accelerator accel = Accelerator.Tcg, int vcpus = 1, int mem = 256) => new()
    {
        Id = "abc",
        QemuPath = "/usr/bin/qemu-system-x86_64",
        KernelPath = "/g/vmlinuz",
        InitrdPath = "/g/initramfs.img",
        StateDir = "/run/vmsandbox/vm-abc",
        Accel = accel,
        Vcpus = vcpus,
        MemoryMiB = mem,
    };

    private static string ValueOf(IReadOnlyList<string> args, string flag)
    {
        int i = args.ToList().IndexOf(flag);
        Assert.True(i >= 0 && i + 1 < args.Count, $"{flag} missing");
        return args[i + 1];
    }

    [Fact]
    public void Has_no_defaults_and_no_user_config()
    {
        var args = QemuCommandLine.Build(Spec());
        Assert.Contains("-nodefaults", args);
        Assert.Contains("-no-user-config", args);
        Assert.Contains("-no-reboot", args);
        Assert.Equal("none", ValueOf(args, "-display"));
    }

    [Fact]
    public void Boots_the_kernel_directly()
    {
        var args = QemuCommandLine.Build(Spec());
        Assert.Equal("/g/vmlinuz", ValueOf(args, "-kernel"));
        Assert.Equal("/g/initramfs.img", ValueOf(args, "-initrd"));
        Assert.StartsWith("console=ttyS0 panic=-1", ValueOf(args, "-append"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(256, "256M")]
    [InlineData(64, "64M")]
    [InlineData(4096, "4096M")]
    public void Guest_ram_is_a_shared_memfd_of_the_requested_size(int mib, string expected)
    {
        var args = QemuCommandLine.Build(Spec(mem: mib));
        Assert.Equal(expected, ValueOf(args, "-m"));
        Assert.Equal($"memory-backend-memfd,id=mem,size={expected},share=on", ValueOf(args, "-object"));
        Assert.Equal("node,memdev=mem", ValueOf(args, "-numa"));
    }

    [Theory]
    [InlineData(Accelerator.Kvm, 0, "kvm", "host")]
    [InlineData(Accelerator.Kvm, 32, "kvm", "host")]
    [InlineData(Accelerator.Tcg, 0, "tcg", "max,erms=off,fsrm=off,pcid=off,invpcid=off")]
    [InlineData(Accelerator.Tcg, 32, "tcg,tb-size=32", "max,erms=off,fsrm=off,pcid=off,invpcid=off")]
    public void Accelerator_selects_cpu_and_tcg_gets_its_translation_cache_size(Accelerator accel, int cacheMiB, string expected, string cpu)
    {
        var args = QemuCommandLine.Build(Spec(accel) with { TcgCacheMiB = cacheMiB });
        Assert.Equal("q35", ValueOf(args, "-machine"));
        Assert.Equal(expected, ValueOf(args, "-accel"));
        Assert.Equal(cpu, ValueOf(args, "-cpu"));
    }

    [Fact]
    public void Console_goes_to_a_log_file_and_qmp_to_a_socket_in_the_state_dir()
    {
        var args = QemuCommandLine.Build(Spec());
        Assert.Equal("file,id=console,path=/run/vmsandbox/vm-abc/console.log,append=on", ValueOf(args, "-chardev"));
        Assert.Equal("chardev:console", ValueOf(args, "-serial"));
        Assert.Equal("unix:/run/vmsandbox/vm-abc/qmp.sock,server=on,wait=off", ValueOf(args, "-qmp"));
    }

    [Fact]
    public void Seccomp_sandbox_is_on_by_default_and_can_be_turned_off()
    {
        Assert.StartsWith("on,", ValueOf(QemuCommandLine.Build(Spec()), "-sandbox"), StringComparison.Ordinal);
        Assert.DoesNotContain("-sandbox", QemuCommandLine.Build(Spec() with { Seccomp = false }));
    }

    [Fact]
    public void Microvm_has_no_acpi_or_pci_and_its_devices_are_virtio_mmio()
    {
        var spec = Spec() with
        {
            Machine = MachineType.Microvm,
            Devices =
            [
                new VhostUserVsockDevice("/s/v.sock"),
                new VirtiofsDevice("vfs0", "/s/vfs0.sock", "vmsandbox"),
                new NetDevice("net0", "vmstap0", "02:42:ac:11:00:02"),
                new BalloonDevice(),
            ],
        };
        var args = QemuCommandLine.Build(spec);
        Assert.Equal("microvm,acpi=off", ValueOf(args, "-machine"));
        // vhost-user back-ends abort on legacy virtio-mmio devices.
        Assert.Equal("virtio-mmio.force-legacy=false", ValueOf(args, "-global"));
        string line = string.Join(' ', args);
        Assert.Contains("-device vhost-user-vsock-device,chardev=vsock", line, StringComparison.Ordinal);
        Assert.Contains("-device vhost-user-fs-device,chardev=vfs0,tag=vmsandbox,queue-size=1024", line, StringComparison.Ordinal);
        Assert.Contains("-device virtio-net-device,netdev=net0,mac=02:42:ac:11:00:02,id=dev-net0", line, StringComparison.Ordinal);
        Assert.Contains("-device virtio-balloon-device,id=balloon,free-page-reporting=on", line, StringComparison.Ordinal);
        Assert.DoesNotContain("-pci,", line, StringComparison.Ordinal);
        string[] kernel = QemuCommandLine.KernelParams(spec).Split(' ');
        Assert.Contains("acpi=off", kernel);
        Assert.Contains("pci=off", kernel);
        // Without ACPI a reboot must be a triple fault for -no-reboot to end QEMU at once.
        Assert.Contains("reboot=t", kernel);
    }

    [Fact]
    public void Q35_keeps_acpi_pci_and_no_global()
    {
        var args = QemuCommandLine.Build(Spec());
        Assert.DoesNotContain("-global", args);
        Assert.DoesNotContain("acpi=off", QemuCommandLine.KernelParams(Spec()).Split(' '));
    }

    [Theory]
    [InlineData(Accelerator.Tcg, 2300000L, true)]
    [InlineData(Accelerator.Tcg, 0L, false)]
    [InlineData(Accelerator.Kvm, 2300000L, false)]
    public void A_tcg_guest_is_told_the_host_tsc_rate_when_it_is_known(Accelerator accel, long khz, bool expected)
    {
        string[] p = QemuCommandLine.KernelParams(Spec(accel) with { HostTscKhz = khz }).Split(' ');
        Assert.Equal(expected, p.Contains("tsc_early_khz=2300000"));
        Assert.Equal(expected, p.Contains("tsc=reliable"));
    }

    [Theory]
    [InlineData(Accelerator.Tcg, 1, true)]
    [InlineData(Accelerator.Tcg, 2, false)]
    [InlineData(Accelerator.Kvm, 1, false)]
    public void The_apic_timer_is_not_calibrated_on_one_tcg_vcpu(Accelerator accel, int vcpus, bool expected) =>
        Assert.Equal(expected, QemuCommandLine.KernelParams(Spec(accel, vcpus)).Split(' ').Contains("noapictimer"));

    [Theory]
    [InlineData(Accelerator.Tcg, true)]
    [InlineData(Accelerator.Kvm, false)]
    public void Only_a_tcg_guest_boots_with_fixed_addresses_for_the_agent_and_its_inits(Accelerator accel, bool expected) =>
        Assert.Equal(expected, QemuCommandLine.KernelParams(Spec(accel)).Split(' ').Contains("norandmaps"));

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    public void Smp_patching_is_skipped_only_on_one_vcpu(int vcpus, bool expected)
    {
        string p = QemuCommandLine.KernelParams(Spec(vcpus: vcpus));
        Assert.Equal(expected, p.Contains("noreplace-smp", StringComparison.Ordinal));
        Assert.Equal(vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture), ValueOf(QemuCommandLine.Build(Spec(vcpus: vcpus)), "-smp"));
    }

    [Fact]
    public void Extra_params_and_devices_come_last()
    {
        var spec = Spec() with { ExtraKernelParams = "foo=bar", Devices = [new VhostUserVsockDevice("/s/v.sock")] };
        var args = QemuCommandLine.Build(spec);
        Assert.EndsWith("foo=bar", ValueOf(args, "-append"), StringComparison.Ordinal);
        Assert.Equal(["-chardev", "socket,id=vsock,path=/s/v.sock", "-device", "vhost-user-vsock-pci,chardev=vsock"], args.TakeLast(4));
    }

    [Fact]
    public void Each_device_kind_renders_to_its_qemu_arguments()
    {
        var spec = Spec() with
        {
            Devices =
            [
                new VirtiofsDevice("vfs0", "/s/vfs0.sock", "vmsandbox"),
                new NetDevice("net0", "vmstap0", "02:42:ac:11:00:02"),
                new BalloonDevice(),
            ],
        };
        string line = string.Join(' ', QemuCommandLine.Build(spec));
        Assert.Contains("-chardev socket,id=vfs0,path=/s/vfs0.sock -device vhost-user-fs-pci,chardev=vfs0,tag=vmsandbox,queue-size=1024", line, StringComparison.Ordinal);
        Assert.Contains("-netdev tap,id=net0,ifname=vmstap0,script=no,downscript=no -device virtio-net-pci,netdev=net0,mac=02:42:ac:11:00:02,id=dev-net0", line, StringComparison.Ordinal);
        Assert.Contains("-device virtio-balloon-pci,id=balloon,free-page-reporting=on", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    public void Hotplug_slots_are_root_ports_with_their_own_chassis(int slots, int expected)
    {
        var args = QemuCommandLine.Build(Spec() with { HotplugSlots = slots });
        var ports = args.Where(a => a.StartsWith("pcie-root-port,", StringComparison.Ordinal)).ToList();
        Assert.Equal(expected, ports.Count);
        Assert.Equal(expected, ports.Select(p => p.Split("chassis=")[1]).Distinct().Count());
        Assert.All(ports.Select((p, i) => (p, i)), x => Assert.StartsWith($"pcie-root-port,id=hp{x.i},", x.p, StringComparison.Ordinal));
    }

    [Fact]
    public void A_nic_hotplugs_as_netdev_add_then_device_add_on_the_given_port()
    {
        var commands = QemuDeviceRenderer.Hotplug(new NetDevice("net1", "vmstap1", "02:00:00:00:00:01"), 2);
        Assert.Equal(["netdev_add", "device_add"], commands.Select(c => c.Command));
        Assert.Equal("""{"type":"tap","id":"net1","ifname":"vmstap1","script":"no","downscript":"no"}""", Render(commands[0].Arguments));
        Assert.Equal("""{"driver":"virtio-net-pci","id":"dev-net1","netdev":"net1","mac":"02:00:00:00:00:01","bus":"hp2"}""", Render(commands[1].Arguments));
    }

    [Fact]
    public void Only_nics_hotplug()
    {
        Assert.Throws<ArgumentException>(() => QemuDeviceRenderer.Hotplug(new VhostUserVsockDevice("/s"), 0));
    }

    private static string Render(Action<System.Text.Json.Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
