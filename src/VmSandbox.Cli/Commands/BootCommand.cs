using System.Globalization;
using System.Runtime.InteropServices;
using VmSandbox.Cli.Output;
using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox boot [--id ID] [--json] [--wait] [--memory SIZE] [--accel auto|kvm|tcg]`:
/// <see cref="BootProbe"/> (with --wait the VM stays up until Ctrl-C or SIGTERM). The demo and the
/// boot benchmark use it; nothing stays behind.
/// </summary>
public static class BootCommand
{
    public static int Run(ArgReader reader, GlobalOptions options, TextWriter stdout, CliLog log)
    {
        string id = "boot-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        bool json = false, wait = false;
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
                case "json" or "wait":
                    json |= name == "json" && ArgReader.ParseBool(name, inline);
                    wait |= name == "wait" && ArgReader.ParseBool(name, inline);
                    break;
                case "memory" or "accel":
                    env.Add(new("VMSANDBOX_HYPERVISOR__" + name.ToUpperInvariant(), reader.TakeValue(name, inline)));
                    break;
                default:
                    throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown flag --{name} for boot");
            }
        }
        RuntimeConfig config = RuntimeConfigLoader.Load(env, AppContext.BaseDirectory);
        config = options.Root is null ? config : config with { StateRoot = Path.GetFullPath(options.Root) };
        using var cts = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        async Task UntilSignal(SandboxVm sandbox, CancellationToken ct)
        {
            stdout.WriteLine($"sandbox {id}: {sandbox.Readiness.Line}");
            stdout.WriteLine($"sandbox {id}: running; vsock {sandbox.Vsock.Description}; stop with Ctrl-C or SIGTERM");
            stdout.Flush();
            await Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        BootReport report = BootProbe.RunAsync(config, id, wait ? UntilSignal : null, log.Warn, cts.Token).GetAwaiter().GetResult();
        BootResult.Write(report, json, stdout);
        return report.Outcome == Hypervisor.StopOutcome.GuestPoweredOff ? ExitCodes.Success : ExitCodes.Failure;
    }
}
