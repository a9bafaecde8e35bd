using System.Diagnostics;
using System.Globalization;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox ps [--format table|json] ID [ps options…]`, as runc: the container's host PIDs,
/// as JSON or picked out of the host's `ps` (default `ps -ef`). On the host the container is its
/// sandbox: the monitor and every process below it (QEMU, virtiofsd). That is what containerd's
/// shim and `docker top` match against the host's ps; guest PIDs would name unrelated host
/// processes (guest PID 1 is the host's init). Kata's shim answers with the VMM's PID likewise.
/// `vmsandbox ps --guest ID` lists the container's own processes as the guest sees them.
/// </summary>
public static class PsCommand
{
    private static readonly string[] s_guestHeader = ["PID", "PPID", "CMD"];

    public static int Run(ArgReader reader, LifecycleContext ctx, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "ps", ["format|f"], ["guest"]);
        if (args.Positional.Count == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "ps: container id cannot be empty");
        }
        string id = args.Positional[0];
        string format = args.Value("format") ?? "table";
        if (format is not ("table" or "json"))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid format option \"{format}\"");
        }
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        if (args.Flag("guest"))
        {
            return GuestTable(record, status, stdout);
        }
        // runc compat: a stopped container has no processes, which is not an error.
        List<int> pids = status == ContainerStatus.Stopped ? [] : ProcessProbe.SelfAndDescendants(record.MonitorPid);
        if (format == "json")
        {
            stdout.Write(StateJson.FormatPids(pids));
            return ExitCodes.Success;
        }
        HostTable(pids, args.Positional.Count > 1 ? args.Positional.Skip(1).ToList() : ["-ef"], stdout);
        return ExitCodes.Success;
    }

    /// <summary>runc's table: the header of `ps ARGS`, then its rows whose PID is one of <paramref name="pids"/>.</summary>
    private static void HostTable(IReadOnlyCollection<int> pids, IReadOnlyList<string> psArgs, TextWriter stdout)
    {
        var psi = new ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in psArgs)
        {
            psi.ArgumentList.Add(a);
        }
        string output;
        using (Process ps = Process.Start(psi) ?? throw new VmSandboxException(ErrorCode.HostMissing, "ps: could not be started"))
        {
            Task<string> err = ps.StandardError.ReadToEndAsync();
            output = ps.StandardOutput.ReadToEnd();
            ps.WaitForExit();
            if (ps.ExitCode != 0)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"ps {string.Join(' ', psArgs)}: {err.Result.Trim()}");
            }
        }
        string[] lines = output.Split('\n');
        int pidColumn = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "PID");
        if (pidColumn < 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "couldn't find PID field in ps output");
        }
        stdout.WriteLine(lines[0]);
        foreach (string line in lines.Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > pidColumn && int.TryParse(fields[pidColumn], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pids.Contains(pid))
            {
                stdout.WriteLine(line);
            }
        }
    }

    private static int GuestTable(ContainerRecord record, ContainerStatus status, TextWriter stdout)
    {
        if (status is ContainerStatus.Stopped or ContainerStatus.Creating)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "container not running");
        }
        ListProcessesResponse list = AgentCall.Run(record, async a => await a.ListProcessesAsync(new ListProcessesRequest { ContainerId = record.Id }, AgentCall.Options, CancellationToken.None));
        var rows = new List<string[]> { s_guestHeader };
        rows.AddRange(list.Processes.Select(p => new[]
        {
            p.Pid.ToString(CultureInfo.InvariantCulture),
            p.Ppid.ToString(CultureInfo.InvariantCulture),
            p.Args.Count > 0 ? string.Join(' ', p.Args) : $"[{p.Command}]",
        }));
        TableWriter.Write(stdout, rows);
        return ExitCodes.Success;
    }
}
