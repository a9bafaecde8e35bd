using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VmSandbox.Bench;

/// <summary>
/// A CI-style build: zlib from Debian's source package (`apt-get source`, cached under
/// ~/.cache/vmsandbox/bench), configured and compiled by gcc and make from an image made of
/// Debian's installed packages, the tree on a bind mount.
/// </summary>
internal static class BuildBench
{
    public const string Image = "vmsb-bench-gcc:local";
    private const string Package = "zlib";
    private const string Steps = "./configure --static >/dev/null && make -j1 libz.a example minigzip >/dev/null && ./example >/dev/null";

    /// <summary>gcc, binutils, libc's headers and make, with what they load (tests/fixtures/add-host-packages.sh).</summary>
    private static readonly string[] s_toolchain =
    [
        "gcc", "gcc-12", "cpp-12", "libgcc-12-dev", "binutils", "binutils-x86-64-linux-gnu", "libbinutils", "libctf0", "libctf-nobfd0",
        "libgprofng0", "libc6", "libc6-dev", "libc-dev-bin", "linux-libc-dev", "libcrypt-dev", "libcrypt1", "libnsl-dev", "libnsl2",
        "libtirpc-dev", "libtirpc3", "libgmp10", "libmpfr6", "libmpc3", "libisl23", "zlib1g", "libzstd1", "libjansson4", "libstdc++6",
        "libgcc-s1", "libcc1-0", "make",
    ];

    public static void Run(StringBuilder doc, Plots plots, BenchDockerd docker, int runs)
    {
        doc.AppendLine("## CI-style build on a bind mount").AppendLine();
        string source;
        try
        {
            source = FetchSource();
            string rootfs = Path.Combine(docker.Scratch, "rootfs-gcc");
            BenchDockerd.Must(Program.Run("packaging/scripts/make-busybox-rootfs.sh", [rootfs], TimeSpan.FromMinutes(2)), "the busybox rootfs");
            BenchDockerd.Must(Program.Run("tests/fixtures/add-host-packages.sh", [rootfs, .. s_toolchain], TimeSpan.FromMinutes(5)), "gcc in the rootfs");
            docker.Import(rootfs, Image);
        }
        catch (InvalidOperationException e)
        {
            doc.AppendLine(CultureInfo.InvariantCulture, $"Not measured: {e.Message}.").AppendLine();
            return;
        }
        doc.AppendLine(CultureInfo.InvariantCulture, $"Debian's {Path.GetFileName(source)} source package (`apt-get source`, cached in ~/.cache/vmsandbox/bench), copied afresh for each run")
            .AppendLine(CultureInfo.InvariantCulture, $"into a host directory bind-mounted at /src; `docker run --rm --runtime R -w /src` of an image holding Debian's gcc 12, binutils, libc6-dev")
            .AppendLine(CultureInfo.InvariantCulture, $"and make (the host's installed packages' files over the busybox rootfs) running `{Steps}`: wall time of the")
            .AppendLine(CultureInfo.InvariantCulture, $"whole call, container start included, {runs} runs, median. One job (`-j1`) everywhere: the VM has 1 vCPU.")
            .AppendLine(CultureInfo.InvariantCulture, $"Under {Program.Accelerator()} the guest's computation is emulated instruction by instruction, so vmsandbox's row is the cost of emulation")
            .AppendLine("plus the file system; it is a measure to follow, not a target, until KVM is there.")
            .AppendLine();
        var table = new ResultTable("build", $"Build of {Path.GetFileName(source)} (configure + make)", new Column("configure + make + test", "s", "F1"));
        foreach (string runtime in docker.Runtimes)
        {
            try
            {
                var times = new List<double>();
                for (int i = 0; i < runs; i++)
                {
                    string tree = Path.Combine(docker.Scratch, $"build-{runtime}-{i}");
                    BenchDockerd.Must(Program.Run("/bin/cp", ["-a", source, tree], TimeSpan.FromMinutes(2)), "copy of the source");
                    try
                    {
                        var sw = Stopwatch.StartNew();
                        BenchDockerd.Must(docker.Docker(["run", "--rm", "--runtime", runtime, "-v", $"{tree}:/src", "-w", "/src", Image, "sh", "-c", Steps], TimeSpan.FromMinutes(30)), "the build");
                        times.Add(sw.Elapsed.TotalSeconds);
                    }
                    finally
                    {
                        Directory.Delete(tree, recursive: true);
                    }
                }
                times.Sort();
                table.Add(runtime, [Program.Median(times)]);
            }
            catch (InvalidOperationException e)
            {
                table.Fail(runtime, e.Message);
            }
        }
        table.Write(doc, plots);
    }

    /// <summary>
    /// The unpacked source tree, fetched once into the cache. `apt-get source` of the newest
    /// version first, then of each older one the source lists name (a security update's files
    /// may be missing from a mirror); needs deb-src entries (packaging/scripts/conformance.sh adds them).
    /// </summary>
    private static string FetchSource()
    {
        string cache = Directory.CreateDirectory(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "vmsandbox", "bench", "src")).FullName;
        string? Unpacked() => Directory.GetDirectories(cache, Package + "-*").Where(d => File.Exists(Path.Combine(d, "configure"))).Order(StringComparer.Ordinal).LastOrDefault();
        if (Unpacked() is { } found)
        {
            return found;
        }
        string versions = Program.Run("/usr/bin/apt-cache", ["showsrc", "--only-source", Package], TimeSpan.FromMinutes(1)).Stdout;
        string last = "no deb-src entry names it (fix: packaging/scripts/conformance.sh adds them)";
        foreach (string version in versions.Split('\n').Where(l => l.StartsWith("Version: ", StringComparison.Ordinal)).Select(l => l[9..].Trim()).Distinct().Take(4))
        {
            var psi = new ProcessStartInfo("/usr/bin/apt-get") { WorkingDirectory = cache, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in (string[])["source", "-qq", $"{Package}={version}"])
            {
                psi.ArgumentList.Add(a);
            }
            using var p = Process.Start(psi)!;
            Task<string> err = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                p.Kill(entireProcessTree: true);
                last = "apt-get source timed out";
                continue;
            }
            if (Unpacked() is { } fetched)
            {
                return fetched;
            }
            last = BenchDockerd.OneLine(err.Result);
        }
        throw new InvalidOperationException($"`apt-get source {Package}` failed: {last}");
    }
}
