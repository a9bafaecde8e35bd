using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>
/// `docker exec` latency into a running container, and stdout throughput: 256 MiB of zeros
/// from `head` in the container to `wc -c` on the host, through `docker exec` and through
/// `docker run`; and the same bytes from `dd` in 64 KiB writes through `docker exec`, which
/// tells the stdio path's throughput from the producer's: busybox's `head` copies in user space,
/// and a vmsandbox guest under TCG emulates that code.
/// </summary>
internal static class ExecStdioBench
{
    private const long Bytes = 256L * 1024 * 1024;

    private static readonly string s_head = $"head -c {Bytes} /dev/zero";
    private static readonly string s_dd = $"dd if=/dev/zero bs=65536 count={Bytes / 65536}";

    public static void Run(StringBuilder doc, Plots plots, BenchDockerd docker, int runs)
    {
        doc.AppendLine("## `docker exec` and stdout throughput").AppendLine();
        doc.AppendLine(CultureInfo.InvariantCulture, $"One `sleep` container per runtime (busybox image). exec: wall time of `docker exec ID true`, {runs} runs, median.")
            .AppendLine(CultureInfo.InvariantCulture, $"stdout: `docker exec ID head -c {Bytes} /dev/zero | wc -c` on the host, 256 MiB / the pipeline's wall time (exec's start included),")
            .AppendLine(CultureInfo.InvariantCulture, $"{runs} runs, median; the same through `docker run --rm` (the container's start and removal included). The count is checked.")
            .AppendLine(CultureInfo.InvariantCulture, $"dd: `docker exec ID {s_dd}` instead of head: the same bytes in 64 KiB writes, so the column measures the stdio path")
            .AppendLine("rather than the producer. busybox's `head` spends its time in user space, which a vmsandbox guest under TCG emulates")
            .AppendLine("(`head -c 64M /dev/zero > /dev/null` alone takes about 2.1 s in the guest, ~30 MiB/s): head's columns are bounded by that.")
            .AppendLine();
        var table = new ResultTable("exec-stdio", "docker exec latency and stdout throughput",
            new Column("docker exec true", "ms", "F0"), new Column("stdout via docker exec", "MiB/s", "F1"), new Column("stdout via docker run", "MiB/s", "F1"),
            new Column("stdout via docker exec, dd 64 KiB writes", "MiB/s", "F1"));
        foreach (string runtime in docker.Runtimes)
        {
            string name = docker.NewName("exec");
            try
            {
                BenchDockerd.Must(docker.Docker(["run", "-d", "--runtime", runtime, "--name", name, BenchDockerd.BusyboxImage, "sleep", "100000"]), "docker run -d");
                var exec = new List<double>();
                var viaExec = new List<double>();
                var viaRun = new List<double>();
                var viaExecDd = new List<double>();
                for (int i = 0; i < runs; i++)
                {
                    var sw = Stopwatch.StartNew();
                    BenchDockerd.Must(docker.Docker(["exec", name, "true"], TimeSpan.FromMinutes(1)), "docker exec true");
                    exec.Add(sw.Elapsed.TotalMilliseconds);
                    viaExec.Add(Throughput(docker, $"exec {name}", s_head));
                    viaRun.Add(Throughput(docker, $"run --rm --runtime {runtime} {BenchDockerd.BusyboxImage}", s_head));
                    viaExecDd.Add(Throughput(docker, $"exec {name}", s_dd));
                }
                exec.Sort();
                viaExec.Sort();
                viaRun.Sort();
                viaExecDd.Sort();
                table.Add(runtime, [Program.Median(exec), Program.Median(viaExec), Program.Median(viaRun), Program.Median(viaExecDd)]);
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

    /// <summary>MiB/s of `docker DOCKER_ARGS PRODUCER | wc -c`, the count checked (dd's record counts on stderr are dropped).</summary>
    private static double Throughput(BenchDockerd docker, string dockerArgs, string producer)
    {
        var sw = Stopwatch.StartNew();
        string count = BenchDockerd.Must(Program.Run("/bin/bash", ["-c", $"set -o pipefail; {docker.ClientCommand} {dockerArgs} {producer} 2>/dev/null | wc -c"], TimeSpan.FromMinutes(3)), $"docker {dockerArgs} {producer}");
        double seconds = sw.Elapsed.TotalSeconds;
        if (count.Trim() != Bytes.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"docker {dockerArgs} {producer}: {count.Trim()} bytes arrived, not {Bytes}");
        }
        return Bytes / (1024.0 * 1024.0) / seconds;
    }
}
