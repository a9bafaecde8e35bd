using VmSandbox.Hypervisor;

namespace VmSandbox.Runtime.Config;

/// <summary>
/// The runtime's settings, after defaults, /etc/vmsandbox/config.json and VMSANDBOX_* environment
/// variables were applied in that order (later wins). See docs/configuration.md.
/// </summary>
public sealed record RuntimeConfig
{
    public const string DefaultPath = "/etc/vmsandbox/config.json";

    /// <summary>Where the settings came from, for messages ("defaults" or the file path).</summary>
    public string Source { get; init; } = "defaults";
    public string QemuPath { get; init; } = "/usr/bin/qemu-system-x86_64";
    public string VirtiofsdPath { get; init; } = "/usr/lib/qemu/virtiofsd";
    public AccelMode Accel { get; init; } = AccelMode.Auto;
    /// <summary>The machine model, resolved from <c>hypervisor.machine</c> and the kernel by <see cref="MachineSetting.Select"/>.</summary>
    public MachineType Machine { get; init; } = MachineType.Q35;
    /// <summary>True when <c>hypervisor.machine</c> is <c>auto</c> (part of a pooled VM's shape).</summary>
    public bool MachineAuto { get; init; } = true;
    public int MemoryMiB { get; init; } = 256;
    public int Vcpus { get; init; } = 1;
    /// <summary>TCG's translation cache in MiB (<see cref="Hypervisor.VmSpec.TcgCacheMiB"/>); 0 = QEMU's default of 1 GiB.</summary>
    public int TcgCacheMiB { get; init; } = 32;
    public string KernelParams { get; init; } = "";
    public string GuestDir { get; init; } = "";
    public string KernelPath { get; init; } = "";
    public string InitrdPath { get; init; } = "";
    /// <summary>Which kernel <see cref="KernelPath"/> is (<see cref="GuestKernel.Select"/> picked it).</summary>
    public GuestKernelKind KernelKind { get; init; } = GuestKernelKind.Debian;
    public string StateRoot { get; init; } = "/run/vmsandbox";
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>pool.size: VMs the warm pool keeps booted ahead of time (ADR 0018); 0, the default, is off.</summary>
    public int PoolSize { get; init; }
    /// <summary>diagnostics.phaseLog: a file each step of a container's life is timed into (<see cref="PhaseLog"/>); null, the default, is off.</summary>
    public string? PhaseLogPath { get; init; }
}
