using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>
/// Host memory per idle sandbox, Kata's way: the PSS of the runtime's host processes for each
/// container (<see cref="SandboxProcesses"/>), summed and divided by the number of containers,
/// with one and with N idle `sleep` containers; and the start of the (N+1)th container against
/// the first's, to see what the idle ones cost a newcomer.
/// </summary>
internal static class DensityBench
{
    /// <summary>Bound on one runtime's whole row: a start that slows down past it ends the row.</summary>
    private static readonly TimeSpan s_rowLimit = TimeSpan.FromMinutes(20);

    public static void Run(StringBuilder doc, Plots plots, BenchDockerd docker, int idle)
    {
        doc.AppendLine("## Host memory per idle sandbox").AppendLine();
        var counted = new List<string>();
        var table = new ResultTable("density", $"Idle sandboxes: host PSS and start time with {idle} running",
            new Column("PSS per sandbox, 1 idle", "MiB", "F1"), new Column($"PSS per sandbox, {idle} idle", "MiB", "F1"),
            new Column($"sandboxes per GiB ({idle} idle)", "count", "F1"), new Column("start of the 1st", "ms", "F0"), new Column($"start of the {Ordinal(idle + 1)}", "ms", "F0"));
        foreach (string runtime in docker.Runtimes)
        {
            var names = new List<string>();
            try
            {
                var ids = new List<string>();
                var clock = Stopwatch.StartNew();
                double Start()
                {
                    if (clock.Elapsed > s_rowLimit)
                    {
                        throw new InvalidOperationException($"stopped after {ids.Count} containers: past {s_rowLimit.TotalMinutes} min");
                    }
                    string name = docker.NewName("idle");
                    names.Add(name);
                    var sw = Stopwatch.StartNew();
                    ids.Add(BenchDockerd.Must(docker.Docker(["run", "-d", "--runtime", runtime, "--name", name, BenchDockerd.BusyboxImage, "sleep", "100000"]), "docker run -d").Trim());
                    return sw.Elapsed.TotalMilliseconds;
                }
                double first = Start();
                double one = Settled(ids);
                while (ids.Count < idle)
                {
                    Start();
                }
                double many = Settled(ids);
                counted.Add($"{runtime}: {SandboxProcesses.Names(SandboxProcesses.Of(ids[0]))}");
                double next = Start();
                table.Add(runtime, [one, many, 1024 / many, first, next]);
            }
            catch (InvalidOperationException e)
            {
                table.Fail(runtime, e.Message);
            }
            finally
            {
                foreach (string name in names)
                {
                    docker.Docker(["rm", "-f", name], TimeSpan.FromMinutes(2));
                }
            }
        }
        doc.AppendLine(CultureInfo.InvariantCulture, $"Kata's method: for each `docker run -d --runtime R {BenchDockerd.BusyboxImage} sleep 100000` container, the proportional set size")
            .AppendLine("(`/proc/PID/smaps_rollup`) of every host process under its containerd-shim-runc-v2 (a subreaper, so the runtime's daemonised")
            .AppendLine("processes are there), summed over the containers and divided by their count, 3 s after the last start; the shim itself,")
            .AppendLine(CultureInfo.InvariantCulture, $"Docker's and the same for every runtime, is left out. Once with 1 idle container, once with {idle}; then the wall time of")
            .AppendLine(CultureInfo.InvariantCulture, $"`docker run -d` for the {Ordinal(idle + 1)} container against the 1st's. Sandboxes per GiB: 1024 / the {idle}-idle PSS. Processes counted:")
            .AppendLine(string.Join("; ", counted) + ".")
            .AppendLine();
        table.Write(doc, plots);
    }

    /// <summary>PSS per container in MiB, after the newest has had a moment to settle.</summary>
    private static double Settled(List<string> ids)
    {
        Thread.Sleep(3000);
        var pids = ids.Select(SandboxProcesses.Of).ToList();
        if (pids.Any(p => p.Count == 0))
        {
            throw new InvalidOperationException("a container's shim or processes were not found under /proc");
        }
        return pids.Sum(SandboxProcesses.PssMiB) / ids.Count;
    }

    private static string Ordinal(int n) => n.ToString(CultureInfo.InvariantCulture) + (n % 100 is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });
}
