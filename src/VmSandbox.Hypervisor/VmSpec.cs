using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Hypervisor;

/// <summary>Everything needed to start one sandbox VM. Paths are absolute.</summary>
public sealed record VmSpec
{
    /// <summary>Sandbox ID, used in the VM name and in messages.</summary>
    public required string Id { get; init; }
    public required string QemuPath { get; init; }
    public required string KernelPath { get; init; }
    public required string InitrdPath { get; init; }
    /// <summary>Directory for the VM's sockets and console log; created by the caller.</summary>
    public required string StateDir { get; init; }
    public Accelerator Accel { get; init; } = Accelerator.Tcg;
    public MachineType Machine { get; init; } = MachineType.Q35;
    public int MemoryMiB { get; init; } = 256;
    public int Vcpus { get; init; } = 1;
    /// <summary>
    /// TCG's translation cache (QEMU's tb-size) in MiB; 0 = QEMU's default (1 GiB). An idle guest's
    /// translated code fills about 60 MiB of host memory that stays charged to the sandbox; a
    /// smaller cache is flushed and refilled more often under heavy code (ADR 0016). Unused by KVM.
    /// </summary>
    public int TcgCacheMiB { get; init; }
    /// <summary>Extra kernel parameters appended after ours.</summary>
    public string ExtraKernelParams { get; init; } = "";
    /// <summary>Devices present at boot (vsock, virtio-fs shares, NICs), rendered only by the driver.</summary>
    public IReadOnlyList<VmDevice> Devices { get; init; } = [];
    /// <summary>Empty PCIe root ports for devices hot-plugged later (NICs that appear after boot); q35 only, 0 on microvm.</summary>
    public int HotplugSlots { get; init; }
    /// <summary>
    /// The host's TSC rate in kHz, handed to a TCG guest (<c>tsc_early_khz</c>) so that it does not
    /// calibrate its TSC against emulated timers, which under load sometimes fails and hangs or
    /// resets the guest; 0 = let the guest calibrate (KVM guests read it from the hypervisor).
    /// </summary>
    public long HostTscKhz { get; init; }
    /// <summary>Apply QEMU's seccomp sandbox (-sandbox on).</summary>
    public bool Seccomp { get; init; } = true;

    public string ConsoleLogPath => Path.Combine(StateDir, "console.log");
    public string QmpSocketPath => Path.Combine(StateDir, "qmp.sock");
    public string VirtiofsSocketPath(int index) => Path.Combine(StateDir, $"vfs{index}.sock");
}
