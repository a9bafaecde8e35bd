using System.Globalization;
using VmSandbox.Agent.Protocol;
using VmSandbox.Cli.Output;
using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox ps [--format table|json] ID [ps options…]`, as runc: the container's host PIDs
/// (<see cref="Container.HostPids"/>: its sandbox, which containerd's shim and `docker top` match
/// against the host's ps; Kata's shim answers with the VMM's PID likewise), as JSON or picked out
/// of the host's `ps` (default `ps -ef`). `--guest` lists the container's own processes as the
/// guest sees them.
/// </summary>
public static class PsCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "ps", ["format|f"], ["guest"]);
        if (args.Positional.Count == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "ps: container id cannot be empty");
        }
        string format = args.Value("format") ?? "table";
        if (format is not ("table" or "json"))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid format option \"{format}\"");
        }
        Container container = Container.Load(rt, args.Positional[0]);
        if (args.Flag("guest"))
        {
            TableWriter.Write(stdout, [["PID", "PPID", "CMD"], .. container.GuestProcesses().Processes.Select(Row)]);
        }
        else if (format == "json")
        {
            stdout.Write(StateJson.FormatPids(container.HostPids()));
        }
        else
        {
            HostPsTable.Write(container.HostPids(), args.Positional.Count > 1 ? [.. args.Positional.Skip(1)] : ["-ef"], stdout);
        }
        return ExitCodes.Success;
    }

    internal static string[] Row(ProcessInfo p) =>
        [p.Pid.ToString(CultureInfo.InvariantCulture), p.Ppid.ToString(CultureInfo.InvariantCulture), p.Args.Count > 0 ? string.Join(' ', p.Args) : $"[{p.Command}]"];
}
