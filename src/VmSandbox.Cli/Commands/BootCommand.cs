using System.Globalization;
using System.Text.Json;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox boot [--id ID] [--json] [--wait] [--memory SIZE] [--accel auto|kvm|tcg]`: boots a
/// sandbox VM, waits for the agent (readiness line, then Check over vsock), asks the guest to power
/// off (with --wait: on Ctrl-C or SIGTERM), and removes its state.
/// The demo and the boot benchmark use it; nothing stays behind, also on errors and Ctrl-C.
/// </summary>
public static class BootCommand
{
    public static int Run(ArgReader reader, GlobalOptions options, TextWriter stdout, CliLog log)
    {
        string id = "boot-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        bool json = false;
        bool wait = false;
        List<KeyValuePair<string, string?>> env = RuntimeConfigLoader.ProcessEnvironment();
        while (!reader.AtEnd)
        {
            string arg = reader.Next();
            if (!ArgReader.TryParseFlag(arg, out string name, out string? inline))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"boot takes no positional arguments, got \"{arg}\"");
            }
            switch (name)
            {
                case "id":
                    id = reader.TakeValue(name, inline);
                    break;
                case "json":
                    json = ArgReader.ParseBool(name, inline);
                    break;
                case "wait":
                    wait = ArgReader.ParseBool(name, inline);
                    break;
                case "memory":
                    env.Add(new("VMSANDBOX_HYPERVISOR__MEMORY", reader.TakeValue(name, inline)));
                    break;
                case "accel":
                    env.Add(new("VMSANDBOX_HYPERVISOR__ACCEL", reader.TakeValue(name, inline)));
                    break;
                default:
                    throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown flag --{name} for boot");
            }
        }
        RuntimeConfig config = RuntimeConfigLoader.Load(env, AppContext.BaseDirectory);
        if (options.Root is not null)
        {
            config = config with { StateRoot = Path.GetFullPath(options.Root) };
        }
        Oci.ContainerIdValidator.Validate(id);
        using var cts = new CancellationTokenSource();
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        return BootAsync(config, id, json, wait, stdout, log, cts.Token).GetAwaiter().GetResult();
    }

    private static async Task<int> BootAsync(RuntimeConfig config, string id, bool json, bool wait, TextWriter stdout, CliLog log, CancellationToken ct)
    {
        string stateDir = Path.Combine(config.StateRoot, "vm-" + id);
        if (Directory.Exists(stateDir))
        {
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"sandbox {id} exists already ({stateDir})");
        }
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), log.Warn);
        try
        {
            VmSpec spec = factory.CreateSpec(id, stateDir);
            await using SandboxVm sandbox = await factory.BootAsync(spec, ct);
            AgentReadiness ready = sandbox.Vm.Readiness!;
            BootTimings t = sandbox.Vm.Timings!;
            GuestDetails guest = await sandbox.Agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), null, ct);
            if (wait)
            {
                stdout.WriteLine($"sandbox {id}: {ready.Line}");
                stdout.WriteLine($"sandbox {id}: running; vsock {sandbox.Vsock.Description}; stop with Ctrl-C or SIGTERM");
                stdout.Flush();
                // Until a signal, or until the guest goes away by itself.
                await Task.WhenAny(Task.Delay(Timeout.Infinite, ct), sandbox.Vm.WaitExitAsync(Timeout.InfiniteTimeSpan));
            }
            StopOutcome outcome = await sandbox.ShutdownAsync(config.StopTimeout, CancellationToken.None);
            string accel = spec.Accel.ToString().ToLowerInvariant();
            if (json)
            {
                var result = new BootResult(id, accel, ready.Version, t.QemuStartMs, t.FirmwareMs,
                    t.KernelMs, t.AgentInitMs, t.TotalMs, outcome.ToString(), guest.KernelRelease, guest.CpuCount, guest.MemoryTotalBytes);
                stdout.WriteLine(JsonSerializer.Serialize(result, CliJsonContext.Default.BootResult));
            }
            else
            {
                stdout.WriteLine($"sandbox {id}: {ready.Line}");
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"boot ({accel}): qemu start {t.QemuStartMs:F0} ms, firmware+load {t.FirmwareMs:F0} ms, kernel {t.KernelMs:F0} ms, agent init {t.AgentInitMs:F0} ms, total {t.TotalMs:F0} ms"));
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"guest (agent api over vsock): kernel {guest.KernelRelease}, {guest.CpuCount} cpu, {guest.MemoryTotalBytes / (1024 * 1024)} MiB memory, agent {sandbox.AgentCheck.AgentVersion}"));
                stdout.WriteLine($"stopped: {outcome}");
            }
            return outcome == StopOutcome.GuestPoweredOff ? ExitCodes.Success : ExitCodes.Failure;
        }
        finally
        {
            if (Directory.Exists(stateDir))
            {
                Directory.Delete(stateDir, recursive: true);
            }
        }
    }
}
