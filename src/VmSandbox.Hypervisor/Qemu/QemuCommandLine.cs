using System.Globalization;
using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Hypervisor.Qemu;

/// <summary>
/// Builds QEMU's argument list for a sandbox VM: direct kernel boot, no default devices, no
/// user config, the serial console to a log file, guest RAM in a shared memfd (vhost-user
/// back-ends map it), a QMP socket, and QEMU's own seccomp filter.
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
    /// (pipes, vsock, virtio-fs) gets several times faster (ADR 0002).
    /// </summary>
    private const string TcgCpu = "max,erms=off,fsrm=off";

    public static IReadOnlyList<string> Build(VmSpec spec)
    {
        string mem = spec.MemoryMiB.ToString(CultureInfo.InvariantCulture) + "M";
        var a = new List<string>
        {
            "-name", $"vmsandbox-{spec.Id},debug-threads=on",
            "-machine", $"{spec.Machine},accel={(spec.Accel == Accelerator.Kvm ? "kvm" : "tcg")}",
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
            "-chardev", $"file,id=console,path={spec.ConsoleLogPath}",
            "-serial", "chardev:console",
            "-qmp", $"unix:{spec.QmpSocketPath},server=on,wait=off",
            "-monitor", "none",
        };
        if (spec.Seccomp)
        {
            a.Add("-sandbox");
            a.Add("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        }
        foreach (VmDevice device in spec.Devices)
        {
            a.AddRange(QemuDeviceRenderer.Arguments(device));
        }
        a.AddRange(QemuDeviceRenderer.HotplugPortArguments(spec.HotplugSlots));
        return a;
    }
}
