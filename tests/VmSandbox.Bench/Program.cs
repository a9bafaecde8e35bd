using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VmSandbox.TestSupport.Reliability;

namespace VmSandbox.Bench;

/// <summary>
/// `make bench`: measures VmSandbox against runc and runsc on this machine in the same run and
/// rewrites docs/performance.md. A benchmark, never a test: it asserts nothing about speed.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["reliability", ..])
        {
            // `make test-faults`: docs/reliability.md from the rows the tests recorded.
            return WriteReliabilityReport(Arg(args, "--out") ?? "docs/reliability.md");
        }
        string vmsandbox = Arg(args, "--vmsandbox") ?? "out/bin/vmsandbox";
        string output = Arg(args, "--out") ?? "docs/performance.md";
        int runs = int.Parse(Arg(args, "--runs") ?? "5", CultureInfo.InvariantCulture);
        // --idle N: how many idle containers the density section starts (then one more).
        int idle = int.Parse(Arg(args, "--idle") ?? "20", CultureInfo.InvariantCulture);
        if (runs < 1 || idle < 1 || idle > 50)
        {
            Console.Error.WriteLine("bench: --runs must be at least 1, --idle from 1 to 50");
            return 2;
        }
        Teardown.OnSignals();
        var plots = new Plots(output);

        var doc = new StringBuilder();
        doc.AppendLine("# Performance").AppendLine();
        doc.AppendLine("Produced by `make bench` (tests/VmSandbox.Bench); do not edit by hand. Medians of repeated runs on one machine.").AppendLine();
        string date = $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
        string host = $"{Environment.ProcessorCount} cpus, {CpuModel()}, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}";
        doc.AppendLine(CultureInfo.InvariantCulture, $"- date: {date}");
        doc.AppendLine(CultureInfo.InvariantCulture, $"- host: {host}");
        doc.AppendLine();

        // --only SECTION[,SECTION…] (boot, vsock, cli, lifecycle, network, docker-run, density,
        // exec-stdio, virtiofs, build, cli-calls, pod): those sections (for working on them; make
        // bench runs all), written into the existing page in place of their old numbers.
        string? only = Arg(args, "--only");
        string[] chosen = only?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        string[] unknown = [.. chosen.Except(s_sections)];
        if (unknown.Length > 0)
        {
            Console.Error.WriteLine($"bench: unknown section {string.Join(", ", unknown)}; sections: {string.Join(", ", s_sections)}");
            return 2;
        }
        bool Wanted(string section) => only is null || chosen.Contains(section);
        if (Wanted("boot"))
        {
            BootSection(doc, vmsandbox, runs);
        }
        if (Wanted("vsock"))
        {
            VsockBench.RunAsync(doc, Arg(args, "--guest-dir") ?? "out/share/vmsandbox/guest").GetAwaiter().GetResult();
        }
        if (Wanted("cli"))
        {
            CliStartSection(doc, vmsandbox);
        }
        if (Wanted("lifecycle"))
        {
            LifecycleBench.Run(doc, vmsandbox, runs);
        }
        if (Wanted("network"))
        {
            NetworkBench.Run(doc, vmsandbox);
        }
        if (Wanted("cli-calls"))
        {
            int from = doc.Length;
            CliCallsBench.Run(doc, plots, vmsandbox, runs);
            Console.Error.Write(doc.ToString(from, doc.Length - from));
        }
        DockerSections(doc, plots, vmsandbox, runs, idle, Wanted);
        if (Wanted("pod"))
        {
            Console.Error.WriteLine("bench: pod");
            int from = doc.Length;
            PodBench.Run(doc, plots, runs);
            Console.Error.Write(doc.ToString(from, doc.Length - from));
        }
        doc.AppendLine(NotMeasured).AppendLine();
        doc.AppendLine("The warm pool (ADR 0018) anywhere but the cold `docker run` table (its idle cost is under that table), and")
            .AppendLine("everything under KVM: these machines have no /dev/kvm, so every vmsandbox number here is QEMU's TCG emulation.")
            .AppendLine();

        File.WriteAllText(output, only is not null && File.Exists(output) ? Splice(File.ReadAllText(output), doc.ToString(), $"Measured on its own (`--only {only}`), {date}, {host}.") : doc.ToString());
        Console.WriteLine(doc.ToString());
        Console.WriteLine($"bench: wrote {output}");
        return 0;
    }

    private static readonly string[] s_dockerSections = ["docker-run", "density", "exec-stdio", "virtiofs", "build"];
    private static int WriteReliabilityReport(string output)
    {
        var rows = ReliabilityLog.ReadAll();
        string commit = Run("git", ["rev-parse", "--short", "HEAD"], TimeSpan.FromSeconds(10)).Stdout.Trim();
        File.WriteAllText(output, ReliabilityReport.Render(rows, commit.Length > 0 ? commit : "unknown"));
        Console.Error.WriteLine($"bench: {rows.Count} reliability rows from {ReliabilityLog.RowsFile} -> {output}");
        return 0;
    }

    private static readonly string[] s_sections = ["boot", "vsock", "cli", "lifecycle", "network", "cli-calls", "docker-run", "density", "exec-stdio", "virtiofs", "build", "pod"];

    /// <summary>The sections that go through dockerd, on one private daemon started for them and removed after.</summary>
    private static void DockerSections(StringBuilder doc, Plots plots, string vmsandbox, int runs, int idle, Func<string, bool> wanted)
    {
        string[] sections = [.. s_dockerSections.Where(wanted)];
        if (sections.Length == 0)
        {
            return;
        }
        BenchDockerd docker;
        try
        {
            docker = BenchDockerd.Start(vmsandbox);
        }
        catch (InvalidOperationException e)
        {
            doc.AppendLine("## Docker").AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Not measured: {e.Message}.").AppendLine();
            return;
        }
        using (docker)
        {
            foreach (string section in sections)
            {
                Console.Error.WriteLine($"bench: {section}");
                int from = doc.Length;
                switch (section)
                {
                    case "docker-run":
                        DockerRunBench.Run(doc, plots, docker, runs);
                        break;
                    case "density":
                        DensityBench.Run(doc, plots, docker, idle);
                        break;
                    case "exec-stdio":
                        ExecStdioBench.Run(doc, plots, docker, runs);
                        break;
                    case "virtiofs":
                        VirtioFsBench.Run(doc, plots, docker, runs);
                        break;
                    default:
                        BuildBench.Run(doc, plots, docker, runs);
                        break;
                }
                // As it is done: a run stopped later still shows what it measured.
                Console.Error.Write(doc.ToString(from, doc.Length - from));
            }
        }
    }

    private static void BootSection(StringBuilder doc, string vmsandbox, int runs)
    {
        var results = new List<JsonElement>();
        for (int i = 0; i < runs; i++)
        {
            (int rc, string stdout, string stderr) = Run(vmsandbox, ["boot", "--json", "--id", $"bench-{Environment.ProcessId}-{i}"], TimeSpan.FromMinutes(3));
            if (rc != 0)
            {
                Console.Error.WriteLine($"bench: boot run {i} failed: {stderr.Trim()}");
                continue;
            }
            results.Add(JsonDocument.Parse(stdout).RootElement.Clone());
        }
        doc.AppendLine("## Sandbox VM boot breakdown").AppendLine();
        if (results.Count == 0)
        {
            doc.AppendLine("No successful boot: see `vmsandbox check`.").AppendLine();
            return;
        }
        string accel = results[0].GetProperty("accel").GetString()!;
        string machine = results[0].GetProperty("machine").GetString()!;
        // The release tells the kernels apart: Debian's ends in -cloud-amd64, the minimal one (make kernel) does not.
        string release = results[0].GetProperty("guestKernel").GetString()!;
        string kernel = release.EndsWith("-cloud-amd64", StringComparison.Ordinal) ? $"Debian cloud kernel {release}" : $"minimal kernel {release} (make kernel)";
        doc.AppendLine(CultureInfo.InvariantCulture,
            $"`vmsandbox boot`: QEMU start → kernel → agent ready, {results.Count} runs, accelerator **{accel}**, 256 MiB, 1 vCPU, {machine}, {kernel}. ")
            .AppendLine("QEMU start is spawn until QMP answers; firmware+load is the rest until the guest clock starts; kernel is guest uptime at /init; agent init is /init until the readiness line (mounts, modules).")
            .AppendLine();
        doc.AppendLine("| phase | median ms | min ms | max ms |").AppendLine("|---|---:|---:|---:|");
        foreach ((string key, string label) in new[]
        {
            ("qemuStartMs", "QEMU start"), ("firmwareMs", "firmware + kernel load"), ("kernelMs", "kernel to /init"),
            ("agentInitMs", "agent init to ready"), ("totalMs", "**total to agent ready**"),
        })
        {
            var v = results.Select(r => r.GetProperty(key).GetDouble()).Order().ToList();
            doc.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {Median(v):F0} | {v[0]:F0} | {v[^1]:F0} |");
        }
        doc.AppendLine();
    }

    private static void CliStartSection(StringBuilder doc, string vmsandbox)
    {
        // Docker calls the runtime binary several times per container: its start-up is on every path.
        doc.AppendLine("## Runtime binary start-up").AppendLine();
        doc.AppendLine("`<runtime> --version`, 30 runs each, wall time of the whole process.").AppendLine();
        doc.AppendLine("| runtime | median ms | ratio to runc |").AppendLine("|---|---:|---:|");
        var rows = new List<(string Name, double Ms)>();
        foreach ((string name, string path) in new[] { ("vmsandbox", vmsandbox), ("runc", "/usr/sbin/runc"), ("runsc", "/usr/bin/runsc") })
        {
            string? exe = name == "vmsandbox" ? (File.Exists(path) ? path : null) : Find(name, path);
            if (exe is null)
            {
                doc.AppendLine(CultureInfo.InvariantCulture, $"| {name} | not installed | |");
                continue;
            }
            var times = new List<double>();
            for (int i = 0; i < 30; i++)
            {
                var sw = Stopwatch.StartNew();
                Run(exe, ["--version"], TimeSpan.FromSeconds(30));
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            rows.Add((name, Median(times)));
        }
        double runc = rows.FirstOrDefault(r => r.Name == "runc").Ms;
        foreach ((string name, double ms) in rows)
        {
            doc.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {ms:F1} | {(runc > 0 ? (ms / runc).ToString("F2", CultureInfo.InvariantCulture) : "n/a")} |");
        }
        doc.AppendLine();
    }

    /// <summary>
    /// <paramref name="page"/> with each `## ` section of <paramref name="fresh"/> in place of the
    /// section of the same title, or before "Not measured yet" if it has none; the other sections
    /// keep their numbers, and the page's date and host stay theirs: a spliced section says its
    /// own (<paramref name="stamp"/>) under its title. "Not measured yet" is the fresh one, unstamped
    /// (it describes this bench, not a run).
    /// </summary>
    internal static string Splice(string page, string fresh, string stamp)
    {
        List<string> sections = SplitSections(page);
        foreach (string fromFresh in SplitSections(fresh).Skip(1))
        {
            string title = fromFresh[..fromFresh.IndexOf('\n', StringComparison.Ordinal)];
            string section = title == NotMeasured ? fromFresh : $"{title}\n\n{stamp}\n{fromFresh[(title.Length + 1)..]}";
            int at = sections.FindIndex(s => s.StartsWith(title + "\n", StringComparison.Ordinal));
            if (at >= 0)
            {
                sections[at] = section;
            }
            else
            {
                int notMeasured = sections.FindIndex(s => s.StartsWith(NotMeasured, StringComparison.Ordinal));
                sections.Insert(notMeasured >= 0 ? notMeasured : sections.Count, section);
            }
        }
        return string.Concat(sections);
    }

    private const string NotMeasured = "## Not measured yet";

    /// <summary>The text before the first `## ` heading, then each section from its heading to the next.</summary>
    private static List<string> SplitSections(string page)
    {
        var sections = new List<string>();
        int start = 0;
        for (int at = page.IndexOf("\n## ", StringComparison.Ordinal); at >= 0; at = page.IndexOf("\n## ", at + 1, StringComparison.Ordinal))
        {
            sections.Add(page[start..(at + 1)]);
            start = at + 1;
        }
        sections.Add(page[start..]);
        return sections;
    }

    internal static double Median(List<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    /// <param name="stdioFile">
    /// For a call that leaves a process behind holding its stdio (`run --detach`: the container's
    /// stdio are the caller's): a regular file to use as stdin, stdout and stderr instead of pipes
    /// that would never reach EOF. Not /dev/null: runsc chowns its container's stdio to its
    /// sandbox user, and the host's /dev/null must stay root's.
    /// </param>
    internal static (int Rc, string Stdout, string Stderr) Run(string exe, string[] args, TimeSpan timeout, string? stdioFile = null)
    {
        bool capture = stdioFile is null;
        string[] command = capture ? args : ["-c", $"exec \"$0\" \"$@\" <'{stdioFile}' >>'{stdioFile}' 2>&1", exe, .. args];
        // stdin is a pipe of ours, never an inherited /dev/null: runsc chowns its stdio too.
        var psi = new ProcessStartInfo(capture ? exe : "/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in command)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> o = p.StandardOutput.ReadToEndAsync();
        Task<string> e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "", "timed out");
        }
        bool drained = Task.WaitAll([o, e], TimeSpan.FromSeconds(5));
        return (p.ExitCode, drained ? o.Result : "", drained ? e.Result : "");
    }

    /// <summary>What the runtime picks with its default `auto` setting: kvm, or tcg when KVM is missing or not usable.</summary>
    internal static string Accelerator() =>
        VmSandbox.Hypervisor.AccelDetector.ForHost().Choose(VmSandbox.Hypervisor.AccelMode.Auto).Accel.ToString().ToLowerInvariant();

    /// <summary>The runtime at its usual path, else on PATH, else null.</summary>
    internal static string? Find(string name, string usualPath) => File.Exists(usualPath) ? usualPath : Which(name);

    /// <summary>`vmsandbox spec`'s default config.json (runc's), as text.</summary>
    internal static string DefaultSpecJson() => VmSandbox.Oci.SpecLoader.Serialize(VmSandbox.Oci.DefaultSpec.Create());

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown cpu";

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
