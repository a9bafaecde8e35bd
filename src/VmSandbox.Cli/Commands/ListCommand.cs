using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox list [--format table|json] [--quiet]`: the containers under --root, as runc lists them.</summary>
public static class ListCommand
{
    private static readonly string[] s_header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];

    public static int Run(ArgReader reader, ContainerRuntime rt, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "list", ["format|f"], ["quiet|q"]);
        var states = new List<ContainerState>();
        foreach (string id in rt.Store.Ids())
        {
            try
            {
                states.Add(Container.Load(rt, id).State());
            }
            catch (VmSandboxException)
            {
                // Removed while we listed, or corrupt: runc skips those too.
            }
        }
        if (args.Flag("quiet"))
        {
            foreach (ContainerState s in states)
            {
                stdout.WriteLine(s.Id);
            }
            return ExitCodes.Success;
        }
        switch (args.Value("format") ?? "table")
        {
            case "json":
                stdout.WriteLine(StateJson.FormatList(states));
                break;
            case "table":
                var rows = new List<string[]> { s_header };
                rows.AddRange(states.Select(s => new[] { s.Id, s.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), s.Status, s.Bundle, s.Created, s.Owner }));
                TableWriter.Write(stdout, rows);
                break;
            default:
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid format option \"{args.Value("format")}\"");
        }
        return ExitCodes.Success;
    }
}
