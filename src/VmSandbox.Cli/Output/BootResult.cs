using System.Globalization;
using System.Text.Json;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Cli.Output;

/// <summary>`vmsandbox boot --json` output; read by the boot benchmark.</summary>
public sealed record BootResult(
    string Id,
    string Accel,
    string Machine,
    string AgentVersion,
    double QemuStartMs,
    double FirmwareMs,
    double KernelMs,
    double AgentInitMs,
    double TotalMs,
    string Stop,
    string GuestKernel,
    uint GuestCpus,
    ulong GuestMemoryBytes)
{
    public static void Write(BootReport r, bool json, TextWriter stdout)
    {
        string accel = r.Accel.ToString().ToLowerInvariant();
        string machine = r.Machine.ToString().ToLowerInvariant();
        BootTimings t = r.Timings;
        if (json)
        {
            var result = new BootResult(r.Id, accel, machine, r.Ready.Version, t.QemuStartMs, t.FirmwareMs, t.KernelMs, t.AgentInitMs, t.TotalMs,
                r.Outcome.ToString(), r.Guest.KernelRelease, r.Guest.CpuCount, r.Guest.MemoryTotalBytes);
            stdout.WriteLine(JsonSerializer.Serialize(result, CliJsonContext.Default.BootResult));
            return;
        }
        stdout.WriteLine($"sandbox {r.Id}: {r.Ready.Line}");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"boot ({accel}, {machine}): qemu start {t.QemuStartMs:F0} ms, firmware+load {t.FirmwareMs:F0} ms, kernel {t.KernelMs:F0} ms, agent init {t.AgentInitMs:F0} ms, total {t.TotalMs:F0} ms"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"guest (agent api over vsock): kernel {r.Guest.KernelRelease}, {r.Guest.CpuCount} cpu, {r.Guest.MemoryTotalBytes / (1024 * 1024)} MiB memory, agent {r.AgentVersion}"));
        stdout.WriteLine($"stopped: {r.Outcome}");
    }
}
