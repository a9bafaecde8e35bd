using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>
/// The runtime calls Docker (containerd's runc shim) makes for every container, each timed on
/// its own: `create`, `start`, `state`, `kill` and `delete` of the stopped container, on the
/// same busybox bundle for each runtime.
/// </summary>
internal static class CliCallsBench
{
    public static void Run(StringBuilder doc, Plots plots, string vmsandbox, int runs)
    {
        doc.AppendLine("## Runtime CLI calls per container").AppendLine();
        doc.AppendLine(CultureInfo.InvariantCulture, $"What the shim asks of `R` for each `docker run`: `R create --bundle B ID` (process `sleep 1000`), `R state ID`, `R start ID`,")
            .AppendLine(CultureInfo.InvariantCulture, $"`R kill ID KILL`, then (once `state` says stopped, not timed) `R delete ID`; wall time of each process, {runs} containers")
            .AppendLine("per runtime, medians. Same busybox bundle and `--root` state directory of the bench's own for each runtime; runsc with `--network=none`.")
            .AppendLine("For vmsandbox `create` boots the VM and `kill` reaches the guest's agent; the others' work is in-process or their sandbox's.")
            .AppendLine();
        var table = new ResultTable("cli-calls", "Runtime CLI calls per container",
            new Column("create", "ms", "F0"), new Column("start", "ms", "F0"), new Column("state", "ms", "F0"), new Column("kill", "ms", "F0"), new Column("delete (stopped)", "ms", "F0"));
        string work = Directory.CreateTempSubdirectory("vmsb-bench-cli-").FullName;
        using IDisposable removeWork = Teardown.Register("the cli-calls temp dir", () => Directory.Delete(work, recursive: true));
        string rootfs = Path.Combine(work, "rootfs");
        (int made, _, string why) = Program.Run("packaging/scripts/make-busybox-rootfs.sh", [rootfs], TimeSpan.FromMinutes(2));
        if (made != 0)
        {
            doc.AppendLine(CultureInfo.InvariantCulture, $"Not measured: the busybox rootfs could not be built ({why.Trim()}).").AppendLine();
            return;
        }
        foreach ((string name, string? exe, string[] flags) in new[]
        {
            ("vmsandbox", File.Exists(vmsandbox) ? vmsandbox : null, Array.Empty<string>()),
            ("runc", Program.Find("runc", "/usr/sbin/runc"), []),
            ("runsc", Program.Find("runsc", BenchDockerd.Runsc), ["--network=none"]),
        })
        {
            if (exe is null)
            {
                table.Fail(name, "not installed");
                continue;
            }
            try
            {
                table.Add(name, Row(name, exe, flags, work, rootfs, runs));
            }
            catch (InvalidOperationException e)
            {
                table.Fail(name, e.Message);
            }
        }
        table.Write(doc, plots);
    }

    private static double?[] Row(string name, string exe, string[] flags, string work, string rootfs, int runs)
    {
        string[] global = ["--root", Directory.CreateDirectory(Path.Combine(work, "state-" + name)).FullName, .. flags];
        string bundle = LifecycleBench.Bundle(work, name + "-calls", rootfs, "sleep", "1000");
        var times = new List<double>[5];
        for (int c = 0; c < times.Length; c++)
        {
            times[c] = [];
        }
        for (int i = 0; i < runs; i++)
        {
            string id = $"calls{Environment.ProcessId}-{i}";
            string stdio = Path.Combine(work, $"{name}-stdio-{i}");
            File.WriteAllText(stdio, "");
            try
            {
                times[0].Add(Timed(() => Program.Run(exe, [.. global, "create", "--bundle", bundle, id], TimeSpan.FromMinutes(3), stdioFile: stdio), "create", stdio));
                times[2].Add(Timed(() => Program.Run(exe, [.. global, "state", id], TimeSpan.FromMinutes(1)), "state"));
                times[1].Add(Timed(() => Program.Run(exe, [.. global, "start", id], TimeSpan.FromMinutes(1)), "start"));
                times[3].Add(Timed(() => Program.Run(exe, [.. global, "kill", id, "KILL"], TimeSpan.FromMinutes(1)), "kill"));
                var deadline = Stopwatch.StartNew();
                while (!Program.Run(exe, [.. global, "state", id], TimeSpan.FromMinutes(1)).Stdout.Contains("\"stopped\"", StringComparison.Ordinal))
                {
                    if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        throw new InvalidOperationException("the container did not stop within 60 s of kill");
                    }
                    Thread.Sleep(50);
                }
                times[4].Add(Timed(() => Program.Run(exe, [.. global, "delete", id], TimeSpan.FromMinutes(1)), "delete"));
            }
            finally
            {
                Program.Run(exe, [.. global, "delete", "--force", id], TimeSpan.FromMinutes(1));
            }
        }
        return [.. times.Select(t =>
        {
            t.Sort();
            return (double?)Program.Median(t);
        })];
    }

    private static double Timed(Func<(int Rc, string Stdout, string Stderr)> call, string what, string? stdio = null)
    {
        var sw = Stopwatch.StartNew();
        (int rc, _, string err) = call();
        double ms = sw.Elapsed.TotalMilliseconds;
        if (rc != 0)
        {
            throw new InvalidOperationException($"`{what}` exited {rc}: {BenchDockerd.OneLine(stdio is null ? err : File.ReadAllText(stdio))}");
        }
        return ms;
    }
}
