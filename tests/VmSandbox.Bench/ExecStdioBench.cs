using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>
/// `docker exec` latency into a running container, and stdout throughput: 256 MiB of zeros
/// from `head` in the container to `wc -c` on the host, through `docker exec` and through
/// `docker run`.
/// </summary>
internal static class ExecStdioBench
{
    private const long Bytes = 256L * 1024 * 1024;

    public static void Run(StringBuilder doc, Plots plots, BenchDockerd docker, int runs)
    {
        doc.AppendLine("## `docker exec` and stdout throughput").AppendLine();
        doc.AppendLine(CultureInfo.InvariantCulture, $"One `sleep` container per runtime (busybox image). exec: wall time of `docker exec ID true`, {runs} runs, median.")
            .AppendLine(CultureInfo.InvariantCulture, $"stdout: `docker exec ID head -c {Bytes} /dev/zero | wc -c` on the host, 256 MiB / the pipeline's wall time (exec's start included),")
            .AppendLine(CultureInfo.InvariantCulture, $"{runs} runs, median; the same through `docker run --rm` (the container's start and removal included). The count is checked.")
            .AppendLine();
        var table = new ResultTable("exec-stdio", "docker exec latency and stdout throughput",
            new Column("docker exec true", "ms", "F0"), new Column("stdout via docker exec", "MiB/s", "F1"), new Column("stdout via docker run", "MiB/s", "F1"));
        foreach (string runtime in docker.Runtimes)
        {
            string name = docker.NewName("exec");
            try
            {
                BenchDockerd.Must(docker.Docker(["run", "-d", "--runtime", runtime, "--name", name, BenchDockerd.BusyboxImage, "sleep", "100000"]), "docker run -d");
                var exec = new List<double>();
                var viaExec = new List<double>();
                var viaRun = new List<double>();
                for (int i = 0; i < runs; i++)
                {
                    var sw = Stopwatch.StartNew();
                    BenchDockerd.Must(docker.Docker(["exec", name, "true"], TimeSpan.FromMinutes(1)), "docker exec true");
                    exec.Add(sw.Elapsed.TotalMilliseconds);
                    viaExec.Add(Throughput(docker, $"exec {name}"));
                    viaRun.Add(Throughput(docker, $"run --rm --runtime {runtime} {BenchDockerd.BusyboxImage}"));
                }
                exec.Sort();
                viaExec.Sort();
                viaRun.Sort();
                table.Add(runtime, [Program.Median(exec), Program.Median(viaExec), Program.Median(viaRun)]);
            }
            catch (InvalidOperationException e)
            {
                table.Fail(runtime, e.Message);
            }
            finally
            {
                docker.Docker(["rm", "-f", name], TimeSpan.FromMinutes(2));
            }
        }
        table.Write(doc, plots);
    }

    /// <summary>MiB/s of `docker DOCKER_ARGS head -c … /dev/zero | wc -c`, the count checked.</summary>
    private static double Throughput(BenchDockerd docker, string dockerArgs)
    {
        var sw = Stopwatch.StartNew();
        string count = BenchDockerd.Must(Program.Run("/bin/bash", ["-c", $"set -o pipefail; {docker.ClientCommand} {dockerArgs} head -c {Bytes} /dev/zero | wc -c"], TimeSpan.FromMinutes(3)), $"docker {dockerArgs} head");
        double seconds = sw.Elapsed.TotalSeconds;
        if (count.Trim() != Bytes.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"docker {dockerArgs} head: {count.Trim()} bytes arrived, not {Bytes}");
        }
        return Bytes / (1024.0 * 1024.0) / seconds;
    }
}
