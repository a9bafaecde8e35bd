using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace VmSandbox.Bench;

/// <summary>
/// The OCI lifecycle under each runtime on the same bundle (a busybox rootfs): the wall time of
/// `R run` for a container that runs `true` (create, start, wait, delete: what `docker run --rm`
/// asks of a runtime, without Docker's own share), `R exec` into a running one, and the host
/// memory (PSS) of one idle container: every process the runtime left running for it.
/// </summary>
public static class LifecycleBench
{
    public static void Run(StringBuilder doc, string vmsandbox, int runs)
    {
        string work = Directory.CreateTempSubdirectory("vmsb-bench-").FullName;
        try
        {
            string rootfs = Path.Combine(work, "rootfs");
            (int rc, _, string err) = Exec("packaging/scripts/make-busybox-rootfs.sh", [rootfs], TimeSpan.FromMinutes(2));
            doc.AppendLine("## Container lifecycle").AppendLine();
            if (rc != 0)
            {
                doc.AppendLine(CultureInfo.InvariantCulture, $"Not measured: the busybox rootfs could not be built ({err.Trim()}).").AppendLine();
                return;
            }
            doc.AppendLine(CultureInfo.InvariantCulture, $"One busybox bundle, {runs} runs each, medians. `run true`: `R run` of a container whose process is `true`, from")
                .AppendLine("the call to its exit (create, start, wait, delete: the runtime's share of `docker run --rm`). `exec true`: `R exec` into a running")
                .AppendLine("container. Idle PSS: the proportional set size of every host process the runtime left running for one `sleep` container")
                .AppendLine("(for vmsandbox the monitor, QEMU with the guest's memory, virtiofsd). runsc runs with `--network=none`.")
                .AppendLine();
            var rows = new List<Measured>();
            foreach ((string name, string? exe, string[] flags) in new[]
            {
                ("vmsandbox", File.Exists(vmsandbox) ? vmsandbox : null, Array.Empty<string>()),
                ("runc", Program.Find("runc", "/usr/sbin/runc"), []),
                ("runsc", Program.Find("runsc", "/usr/bin/runsc"), ["--network=none"]),
            })
            {
                rows.Add(exe is null ? new Measured(name, null, null, null, "not installed") : Row(name, exe, flags, work, rootfs, runs));
            }
            // Each value with its ratio to runc's, all from this one run.
            Measured? runc = rows.Find(r => r.Name == "runc" && r.Failure is null);
            static string Cell(double? value, double? baseline, string format) =>
                value is not { } v ? "" : baseline is > 0 ? $"{v.ToString(format, CultureInfo.InvariantCulture)} ({(v / baseline.Value).ToString("F1", CultureInfo.InvariantCulture)}×)" : v.ToString(format, CultureInfo.InvariantCulture);
            doc.AppendLine("| runtime | run true, ms (× runc) | exec true, ms (× runc) | idle PSS, MiB (× runc) |").AppendLine("|---|---:|---:|---:|");
            foreach (Measured r in rows)
            {
                doc.AppendLine(r.Failure is not null && r.Run is null
                    ? $"| {r.Name} | {r.Failure} | | |"
                    : $"| {r.Name} | {Cell(r.Run, runc?.Run, "F0")} | {(r.Failure is not null ? r.Failure : Cell(r.Exec, runc?.Exec, "F0"))} | {Cell(r.PssMiB, runc?.PssMiB, "F1")} |");
            }
            doc.AppendLine();
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One runtime's medians; <see cref="Failure"/> says why the rest is missing.</summary>
    private sealed record Measured(string Name, double? Run, double? Exec, double? PssMiB, string? Failure);

    private static Measured Row(string name, string exe, string[] flags, string work, string rootfs, int runs)
    {
        string root = Directory.CreateDirectory(Path.Combine(work, "state-" + name)).FullName;
        string[] global = ["--root", root, .. flags];
        string once = Bundle(work, name + "-true", rootfs, "true");
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            (int rc, _, string err) = Exec(exe, [.. global, "run", "--bundle", once, $"b{Environment.ProcessId}-{i}"], TimeSpan.FromMinutes(3));
            if (rc != 0)
            {
                return new Measured(name, null, null, null, $"failed: {OneLine(err)}");
            }
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();

        string idle = Bundle(work, name + "-sleep", rootfs, "sleep", "1000");
        string id = $"idle{Environment.ProcessId}";
        HashSet<int> before = Pids();
        (int started, _, _) = Program.Run(exe, [.. global, "run", "--detach", "--bundle", idle, id], TimeSpan.FromMinutes(3), stdioFile: Touch(Path.Combine(work, name + "-stdio")));
        if (started != 0)
        {
            return new Measured(name, Program.Median(times), null, null, $"failed: `run --detach` exited {started}");
        }
        try
        {
            var execs = new List<double>();
            for (int i = 0; i < runs; i++)
            {
                var sw = Stopwatch.StartNew();
                Exec(exe, [.. global, "exec", id, "true"], TimeSpan.FromMinutes(1));
                execs.Add(sw.Elapsed.TotalMilliseconds);
            }
            execs.Sort();
            Thread.Sleep(1000);
            double pssKiB = Pids().Except(before).Sum(Pss);
            return new Measured(name, Program.Median(times), Program.Median(execs), pssKiB / 1024, null);
        }
        finally
        {
            Exec(exe, [.. global, "delete", "--force", id], TimeSpan.FromMinutes(1));
        }
    }

    /// <summary>A bundle whose config is `vmsandbox spec`'s default with our process and no terminal.</summary>
    internal static string Bundle(string work, string name, string rootfs, params string[] args)
    {
        string dir = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
        JsonNode spec = JsonNode.Parse(Program.DefaultSpecJson())!;
        spec["root"]!["path"] = rootfs;
        spec["root"]!["readonly"] = true;
        spec["process"]!["terminal"] = false;
        spec["process"]!["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]);
        File.WriteAllText(Path.Combine(dir, "config.json"), spec.ToJsonString());
        return dir;
    }

    private static string Touch(string path)
    {
        File.WriteAllText(path, "");
        return path;
    }

    private static HashSet<int> Pids() =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)).Select(n => int.Parse(n!, CultureInfo.InvariantCulture))];

    /// <summary>PSS in KiB from /proc/PID/smaps_rollup; 0 for a process that is gone or a kernel thread.</summary>
    internal static double Pss(int pid)
    {
        try
        {
            string? line = File.ReadLines($"/proc/{pid}/smaps_rollup").FirstOrDefault(l => l.StartsWith("Pss:", StringComparison.Ordinal));
            return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static string OneLine(string s) => s.Trim().Split('\n')[^1].Replace("|", "/", StringComparison.Ordinal);

    private static (int Rc, string Stdout, string Stderr) Exec(string exe, string[] args, TimeSpan timeout) => Program.Run(exe, args, timeout);
}
