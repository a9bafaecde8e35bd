using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox pool status|fill [--wait SECONDS]|drain`: the warm pool of booted VMs (ADR 0018).
/// fill boots the VMs pool.size asks for (create keeps it filled once it is on); drain ends the
/// unclaimed ones (make uninstall, a new guest image, or to give back their memory).
/// </summary>
public static class PoolCommand
{
    private const int MaxWaitSeconds = 3600;
    private static readonly string[] s_header = ["NAME", "PID", "STATE"];

    public static int Run(ArgReader reader, ContainerRuntime rt, TextWriter stdout)
    {
        string action = reader.AtEnd ? "status" : reader.Next();
        VerbArgs args = VerbArgs.Parse(reader, "pool " + action, action == "fill" ? ["wait"] : [], []);
        if (args.Positional.Count > 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"pool {action} takes no arguments, got \"{args.Positional[0]}\"");
        }
        switch (action)
        {
            case "status":
                Status(rt, stdout);
                return ExitCodes.Success;
            case "fill":
                return Fill(rt, args.Value("wait"), stdout);
            case "drain":
                int ended = WarmPool.Drain(rt.Config, TimeSpan.FromSeconds(30), rt.Log.Debug);
                stdout.WriteLine($"warm pool: ended {ended} unclaimed vm(s)");
                return ExitCodes.Success;
            default:
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown pool action \"{action}\"") { Hint = "vmsandbox pool status|fill|drain" };
        }
    }

    private static void Status(ContainerRuntime rt, TextWriter stdout)
    {
        stdout.WriteLine($"pool.size: {rt.Config.PoolSize}{(rt.Config.PoolSize == 0 ? " (off)" : "")}");
        string shape = WarmPool.Shape(rt.Config);
        var rows = new List<string[]> { s_header };
        foreach (PoolEntry e in WarmPool.List(rt.Config))
        {
            string state = !e.Alive ? "gone"
                : e.Claimed is { } id ? "claimed by " + id
                : !e.Ready ? "booting"
                : e.Shape != shape ? "ready (another config: not used)"
                : "ready";
            rows.Add([e.Name, e.Pid.ToString(CultureInfo.InvariantCulture), state]);
        }
        TableWriter.Write(stdout, rows);
    }

    private static int Fill(ContainerRuntime rt, string? wait, TextWriter stdout)
    {
        if (rt.Config.PoolSize == 0)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "the warm pool is off") { Hint = "set pool.size in the config (docs/configuration.md)" };
        }
        int seconds = 0;
        if (wait is not null && (!int.TryParse(wait, NumberStyles.None, CultureInfo.InvariantCulture, out seconds) || seconds > MaxWaitSeconds))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"--wait \"{wait}\" is not a number of seconds in 0..{MaxWaitSeconds}");
        }
        rt.Host.RefillPool(rt.Config, rt.Log.Debug);
        string shape = WarmPool.Shape(rt.Config);
        int Ready() => WarmPool.List(rt.Config).Count(e => e.Ready && e.Alive && e.Shape == shape);
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (Ready() < rt.Config.PoolSize && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(100);
        }
        int ready = Ready();
        stdout.WriteLine($"warm pool: {ready} of {rt.Config.PoolSize} vm(s) ready");
        if (wait is not null && ready < rt.Config.PoolSize)
        {
            throw new VmSandboxException(ErrorCode.Timeout, $"warm pool: only {ready} of {rt.Config.PoolSize} vm(s) ready after {seconds} s")
            {
                Hint = $"see {Path.Combine(WarmPool.Root(rt.Config), "pool.log")}",
            };
        }
        return ExitCodes.Success;
    }
}
