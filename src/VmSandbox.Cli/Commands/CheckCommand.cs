using VmSandbox.Common;
using VmSandbox.Install.Check;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox check`: what this host has and lacks, with the command that fixes each gap.</summary>
public static class CheckCommand
{
    public static int Run(ArgReader reader, TextWriter stdout)
    {
        if (!reader.AtEnd)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"check takes no arguments, got \"{reader.Next()}\"");
        }
        RuntimeConfig config = RuntimeConfigLoader.Load();
        IReadOnlyList<CheckItem> items = HostCheck.ForHost(config).Run();
        Print(items, config, stdout);
        return HostCheck.CanStartVm(items) ? ExitCodes.Success : ExitCodes.HostNotReady;
    }

    public static void Print(IReadOnlyList<CheckItem> items, RuntimeConfig config, TextWriter stdout)
    {
        stdout.WriteLine($"config: {config.Source}");
        foreach (CheckItem i in items)
        {
            string status = i.Ok ? "ok" : i.Required ? "MISSING" : "missing";
            stdout.WriteLine($"{status,-8} {i.Name,-16} {i.Detail}");
            if (!i.Ok && i.Fix is not null)
            {
                stdout.WriteLine($"{"",-8} {"",-16} fix: {i.Fix}");
            }
        }
        stdout.WriteLine(HostCheck.CanStartVm(items)
            ? "result: this host can start sandbox VMs"
            : "result: this host cannot start sandbox VMs yet");
    }
}
