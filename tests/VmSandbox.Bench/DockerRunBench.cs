using System.Diagnostics;
using System.Globalization;
using System.Text;
using VmSandbox.Runtime;

namespace VmSandbox.Bench;

/// <summary>
/// Cold `docker run --rm IMG true` through the bench's own dockerd: a new container each time
/// (the image is already there), the whole client call timed, Docker's share included.
/// </summary>
internal static class DockerRunBench
{
    public static void Run(StringBuilder doc, Plots plots, BenchDockerd docker, int runs)
    {
        doc.AppendLine("## Cold `docker run`").AppendLine();
        doc.AppendLine(CultureInfo.InvariantCulture, $"`docker run --rm --runtime R {BenchDockerd.BusyboxImage} true` through a private dockerd (Debian's 20.10) that the bench starts, {runs} runs per runtime")
            .AppendLine("after one unmeasured run that warms the host's page cache; wall time of the client call, median. Each run is a new container")
            .AppendLine("on Docker's default bridge (its own veth and network namespace); the image is a busybox-static rootfs imported locally.")
            .AppendLine("runc is dockerd's own runtime; runsc is registered with `--network=none`. \"vmsandbox, warm pool\" is the same binary with")
            .AppendLine("`pool.size` 1 (ADR 0018): before each of its runs, untimed, `vmsandbox pool fill --wait` until a pooled VM is booted and warmed up,")
            .AppendLine("and 2 s of quiet; the run's container takes it (checked in the pool's log), and the pool boots the next one after it, at nice 10.")
            .AppendLine();
        var table = new ResultTable("docker-run", "docker run --rm IMG true", new Column("docker run --rm true", "ms", "F0"), new Column("fastest run", "ms", "F0"));
        var phases = new PhaseBreakdown();
        foreach (string runtime in docker.Runtimes)
        {
            try
            {
                var times = new List<double>();
                for (int i = 0; i <= runs; i++)
                {
                    var sw = Stopwatch.StartNew();
                    long began = PhaseLog.Now();
                    BenchDockerd.Must(docker.Docker(["run", "--rm", "--runtime", runtime, BenchDockerd.BusyboxImage, "true"]), "docker run");
                    if (i > 0)
                    {
                        times.Add(sw.Elapsed.TotalMilliseconds);
                        if (runtime == "vmsandbox")
                        {
                            phases.Add(runtime, began, PhaseLog.Now());
                        }
                    }
                }
                times.Sort();
                table.Add(runtime, [Program.Median(times), times[0]]);
            }
            catch (InvalidOperationException e)
            {
                table.Fail(runtime, e.Message);
            }
        }
        if (docker.Runtimes.Contains("vmsandbox"))
        {
            PooledRuns(table, docker, runs, phases, out string? idle);
            table.Write(doc, plots);
            if (idle is not null)
            {
                doc.AppendLine(idle).AppendLine();
            }
            phases.Write(doc, plots, docker.PhaseLogPath);
            return;
        }
        table.Write(doc, plots);
    }

    private const string PooledRow = "vmsandbox, warm pool";

    /// <summary>The pooled runs, and one line on what the idle pooled VM cost meanwhile (PSS and CPU of its process tree).</summary>
    private static void PooledRuns(ResultTable table, BenchDockerd docker, int runs, PhaseBreakdown phases, out string? idle)
    {
        idle = null;
        try
        {
            var times = new List<double>();
            for (int i = 0; i <= runs; i++)
            {
                BenchDockerd.Must(docker.Pool("fill", "--wait", "180"), "vmsandbox pool fill");
                if (i == 0)
                {
                    idle = IdleCost(docker);
                }
                Thread.Sleep(2000);
                int before = Claims(docker);
                var sw = Stopwatch.StartNew();
                long began = PhaseLog.Now();
                BenchDockerd.Must(docker.Docker(["run", "--rm", "--runtime", BenchDockerd.PoolRuntime, BenchDockerd.BusyboxImage, "true"]), "docker run (warm pool)");
                double ms = sw.Elapsed.TotalMilliseconds;
                long ended = PhaseLog.Now();
                if (Claims(docker) != before + 1)
                {
                    throw new InvalidOperationException("a run did not take the pooled vm");
                }
                if (i > 0)
                {
                    times.Add(ms);
                    phases.Add(PooledRow, began, ended);
                }
            }
            times.Sort();
            table.Add(PooledRow, [Program.Median(times), times[0]]);
        }
        catch (InvalidOperationException e)
        {
            table.Fail(PooledRow, e.Message);
        }
    }

    private static int Claims(BenchDockerd docker)
    {
        string log = Path.Combine(docker.PoolDir, "pool.log");
        return File.Exists(log) ? File.ReadAllLines(log).Count(l => l.Contains(": claimed by container ", StringComparison.Ordinal)) : 0;
    }

    /// <summary>PSS of a ready pooled VM's processes, and their CPU use over 10 s of waiting.</summary>
    private static string IdleCost(BenchDockerd docker)
    {
        int holder = Directory.EnumerateDirectories(docker.PoolDir)
            .Select(d => File.ReadAllText(Path.Combine(d, "pid")).Split(' ')[0])
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).First();
        List<int> tree = VmSandbox.Runtime.Containers.ProcessProbe.SelfAndDescendants(holder);
        double cpuBefore = tree.Sum(CpuTicks);
        Thread.Sleep(10_000);
        double cpu = (tree.Sum(CpuTicks) - cpuBefore) / 100.0 / 10.0 * 100; // USER_HZ 100, over 10 s, in % of one CPU
        return string.Create(CultureInfo.InvariantCulture,
            $"An idle pooled VM (warmed up, unclaimed): PSS {SandboxProcesses.PssMiB(tree):F1} MiB ({SandboxProcesses.Names(tree)}), CPU {cpu:F1} % of one CPU over 10 s. The pool holds it on every host whether containers come or not, which is why `pool.size` is 0 by default (ADR 0018).");
    }

    /// <summary>utime + stime of a process, in clock ticks; 0 once it is gone.</summary>
    private static double CpuTicks(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
