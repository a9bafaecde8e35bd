using System.Globalization;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox ps [--format table|json] ID`. The table lists the container's processes as the
/// guest sees them (guest PIDs, commands). The JSON form is the machine interface containerd's
/// shim and `docker top` use to pick rows out of the host's `ps`, so it lists host PIDs: the
/// sandbox monitor and every process below it (QEMU, virtiofsd), which is what the container is
/// on the host, as runc lists its container's cgroup. Guest PIDs there would match unrelated host
/// processes (guest PID 1 is the host's init). Kata's shim does the same with the VMM's PID.
/// </summary>
public static class PsCommand
{
    private static readonly string[] s_header = ["PID", "PPID", "CMD"];

    public static int Run(ArgReader reader, LifecycleContext ctx, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "ps", ["format|f"], []);
        if (args.Positional.Count == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "ps: container id cannot be empty");
        }
        string id = args.Positional[0];
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        if (status is ContainerStatus.Stopped or ContainerStatus.Creating)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "container not running");
        }
        switch (args.Value("format") ?? "table")
        {
            case "json":
                stdout.WriteLine(StateJson.FormatPids(ProcessProbe.SelfAndDescendants(record.MonitorPid)));
                break;
            case "table":
                ListProcessesResponse list = AgentCall.Run(record, async a => await a.ListProcessesAsync(new ListProcessesRequest { ContainerId = id }, AgentCall.Options, CancellationToken.None));
                var rows = new List<string[]> { s_header };
                rows.AddRange(list.Processes.Select(p => new[]
                {
                    p.Pid.ToString(CultureInfo.InvariantCulture),
                    p.Ppid.ToString(CultureInfo.InvariantCulture),
                    p.Args.Count > 0 ? string.Join(' ', p.Args) : $"[{p.Command}]",
                }));
                TableWriter.Write(stdout, rows);
                break;
            default:
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid format option \"{args.Value("format")}\"");
        }
        return ExitCodes.Success;
    }
}
