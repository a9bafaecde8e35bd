using System.Diagnostics;
using System.Globalization;
using System.Text;

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
            .AppendLine("runc is dockerd's own runtime; runsc is registered with `--network=none`. A row for vmsandbox with a warm pool of booted VMs")
            .AppendLine("belongs under vmsandbox's when there is one.")
            .AppendLine();
        var table = new ResultTable("docker-run", "docker run --rm IMG true", new Column("docker run --rm true", "ms", "F0"), new Column("fastest run", "ms", "F0"));
        foreach (string runtime in docker.Runtimes)
        {
            try
            {
                var times = new List<double>();
                for (int i = 0; i <= runs; i++)
                {
                    var sw = Stopwatch.StartNew();
                    BenchDockerd.Must(docker.Docker(["run", "--rm", "--runtime", runtime, BenchDockerd.BusyboxImage, "true"]), "docker run");
                    if (i > 0)
                    {
                        times.Add(sw.Elapsed.TotalMilliseconds);
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
        table.Write(doc, plots);
    }
}
