using System.Globalization;
using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Hypervisor.Qemu;

/// <summary>
/// Builds QEMU's argument list for a sandbox VM: direct kernel boot, no default devices, no
/// user config, the serial console to a log file, guest RAM in a shared memfd (vhost-user
/// back-ends map it), a QMP socket, and QEMU's own seccomp filter. On <see cref="MachineType.Microvm"/>
/// the devices are virtio-mmio ones that QEMU names on the kernel command line (ADR 0016).
/// </summary>
public static class QemuCommandLine
{
    /// <summary>Kernel parameters every sandbox gets, before <see cref="VmSpec.ExtraKernelParams"/>.</summary>
    public static string KernelParams(VmSpec spec)
    {
        var p = new List<string>
        {
            "console=ttyS0",
            // A dead PID 1 panics the kernel; reboot at once, and -no-reboot turns that into QEMU's exit.
            "panic=-1",
            "quiet",
            "loglevel=3",
            // Debian's kernel runs crypto self-tests at boot: about 0.1 s under TCG for nothing.
            "cryptomgr.notests",
            "random.trust_cpu=on",
        };
        if (spec.Vcpus == 1)
        {
            p.Add("noreplace-smp");
        }
        if (spec.Accel == Accelerator.Tcg && spec.HostTscKhz > 0)
        {
            // Emulated timers make TSC calibration slow and, on a loaded host, sometimes wrong
            // enough to hang or reset the guest: hand it the rate (TCG's TSC is the host's).
            p.Add("tsc_early_khz=" + spec.HostTscKhz.ToString(CultureInfo.InvariantCulture));
            p.Add("tsc=reliable");
        }
        if (spec.Accel == Accelerator.Tcg)
        {
            // TCG keys its translations by virtual address: the agent and the container inits it
            // starts sit at fixed addresses, so each init finds the code the agent and the inits
            // before it had translated (exec about 550 → 170 ms). The agent turns randomisation on
            // again for everything else before anything runs, and each init clears it before the
            // container's program (ADR 0016).
            p.Add("norandmaps");
        }
        if (spec.Accel == Accelerator.Tcg && spec.Vcpus == 1)
        {
            // Calibrating the local APIC timer against the emulated PIT costs about 0.3 s of boot
            // under TCG; one vCPU ticks from the PIT as well. Not with ACPI on microvm (no tick
            // then), which this runtime never uses.
            p.Add("noapictimer");
        }
        if (spec.Machine == MachineType.Microvm)
        {
            // No ACPI, no PCI: do not look for them. Without ACPI a reboot is a triple fault,
            // which -no-reboot turns into QEMU's exit (the agent powers off by rebooting).
            p.Add("acpi=off");
            p.Add("pci=off");
            p.Add("reboot=t");
        }
        if (spec.ExtraKernelParams.Length > 0)
        {
            p.Add(spec.ExtraKernelParams);
        }
        return string.Join(' ', p);
    }

    /// <summary>
    /// The CPU model under TCG: everything QEMU emulates, except the fast-string flags. With ERMS
    /// or FSRM the guest kernel and libc copy with `rep movsb`, which TCG runs one byte per
    /// iteration; without them they use `rep movsq` or vector loops, and every copy in the guest
    /// (pipes, vsock, virtio-fs) gets several times faster. And without PCID, one suspect of an
    /// open TCG fault in which a guest process ran another's code at the same addresses (ADR 0002).
    /// </summary>
    public const string TcgCpu = "max,erms=off,fsrm=off,pcid=off,invpcid=off";

    public static IReadOnlyList<string> Build(VmSpec spec)
    {
        string mem = spec.MemoryMiB.ToString(CultureInfo.InvariantCulture) + "M";
        var a = new List<string>
        {
            "-name", $"vmsandbox-{spec.Id},debug-threads=on",
            "-machine", MachineArgument(spec),
            "-accel", AccelArgument(spec),
            "-cpu", spec.Accel == Accelerator.Kvm ? "host" : TcgCpu,
            "-smp", spec.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-m", mem,
            // vhost-user back-ends (virtiofsd, our vsock device) need guest RAM they can mmap.
            "-object", $"memory-backend-memfd,id=mem,size={mem},share=on",
            "-numa", "node,memdev=mem",
            "-nodefaults",
            "-no-user-config",
            "-display", "none",
            "-vga", "none",
            "-no-reboot",
            "-kernel", spec.KernelPath,
            "-initrd", spec.InitrdPath,
            "-append", KernelParams(spec),
            // append=on (O_APPEND): the runtime cuts a flooded console log and QEMU goes on at its new end.
            "-chardev", $"file,id=console,path={spec.ConsoleLogPath},append=on",
            "-serial", "chardev:console",
            "-qmp", $"unix:{spec.QmpSocketPath},server=on,wait=off",
            "-monitor", "none",
        };
        if (spec.Machine == MachineType.Microvm)
        {
            // vhost-user back-ends need virtio 1.0 devices; virtio-mmio defaults to legacy ones.
            a.Add("-global");
            a.Add("virtio-mmio.force-legacy=false");
        }
        if (spec.Seccomp)
        {
            a.Add("-sandbox");
            a.Add("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        }
        foreach (VmDevice device in spec.Devices)
        {
            a.AddRange(QemuDeviceRenderer.Arguments(device, spec.Machine));
        }
        a.AddRange(QemuDeviceRenderer.HotplugPortArguments(spec.HotplugSlots));
        return a;
    }

    private static string MachineArgument(VmSpec spec) => spec.Machine switch
    {
        MachineType.Q35 => "q35",
        // acpi=off: QEMU then lists the virtio-mmio devices on the kernel command line.
        MachineType.Microvm => "microvm,acpi=off",
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Machine, "unknown machine type"),
    };

    private static string AccelArgument(VmSpec spec) =>
        spec.Accel == Accelerator.Kvm ? "kvm"
        : spec.TcgCacheMiB > 0 ? "tcg,tb-size=" + spec.TcgCacheMiB.ToString(CultureInfo.InvariantCulture)
        : "tcg";
}
