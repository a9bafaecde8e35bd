namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox boot --json` output; read by the boot benchmark.</summary>
public sealed record BootResult(
    string Id,
    string Accel,
    string AgentVersion,
    double QemuStartMs,
    double FirmwareMs,
    double KernelMs,
    double AgentInitMs,
    double TotalMs,
    string Stop,
    string GuestKernel,
    uint GuestCpus,
    ulong GuestMemoryBytes);
