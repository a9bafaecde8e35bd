using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace VmSandbox.Bench;

/// <summary>
/// File I/O on a bind-mounted host directory (virtio-fs for vmsandbox, the gofer for runsc, the
/// host's filesystem itself for runc): sequential write and read of a 256 MiB file with dd, and
/// unpacking a tar of 10,000 small files, each timed inside the container by busybox `time`.
/// </summary>
internal static partial class VirtioFsBench
{
    private const int Files = 10_000;

    public static void Run(StringBuilder doc, Plots plots, BenchDockerd docker, int runs)
    {
        doc.AppendLine("## virtio-fs: files on a bind mount").AppendLine();
        string scratch = docker.Scratch;
        string tarDir = Directory.CreateDirectory(Path.Combine(scratch, "tar")).FullName;
        MakeTar(Path.Combine(tarDir, "files.tar"), Path.Combine(scratch, "tar-src"));
        bool dropped = DropHostCaches();
        doc.AppendLine(CultureInfo.InvariantCulture, $"A host directory (ext4 here) bind-mounted at /v into a fresh busybox container per step, {runs} runs per runtime, medians;")
            .AppendLine("each step timed inside the container by busybox `time -p` (the container's start is not in it). write: `dd if=/dev/zero")
            .AppendLine("of=/v/f bs=1M count=256 conv=fsync`. read: `dd if=/v/f of=/dev/null bs=1M` in a new container (so the guest's or sandbox's")
            .AppendLine(dropped
                ? "page cache is cold) after `sync` and `echo 3 > /proc/sys/vm/drop_caches` on the host (cold on the host too)."
                : "page cache is cold); the host's page cache could not be dropped (no write to /proc/sys/vm/drop_caches), so the host's is warm.")
            .AppendLine(CultureInfo.InvariantCulture, $"untar: `tar -xf` of a tar of {Files:N0} files of 1 KiB in 100 directories (read-only bind mount) into an empty directory on /v.")
            .AppendLine();
        var table = new ResultTable("virtiofs", "Bind-mounted directory: dd and tar",
            new Column("write 256 MiB, fsync", "MiB/s", "F1"), new Column("read 256 MiB, cold", "MiB/s", "F1"), new Column($"untar {Files:N0} files", "s", "F2"));
        foreach (string runtime in docker.Runtimes)
        {
            string dir = Directory.CreateDirectory(Path.Combine(scratch, "v-" + runtime)).FullName;
            try
            {
                var write = new List<double>();
                var read = new List<double>();
                var untar = new List<double>();
                string[] Mount(string cmd) => ["run", "--rm", "--runtime", runtime, "-v", $"{dir}:/v", "-v", $"{tarDir}:/t:ro", BenchDockerd.BusyboxImage, "sh", "-c", cmd];
                for (int i = 0; i < runs; i++)
                {
                    write.Add(256 / Timed(docker, Mount("time -p dd if=/dev/zero of=/v/f bs=1M count=256 conv=fsync"), "write"));
                    DropHostCaches();
                    read.Add(256 / Timed(docker, Mount("time -p dd if=/v/f of=/dev/null bs=1M"), "read"));
                    File.Delete(Path.Combine(dir, "f"));
                    untar.Add(Timed(docker, Mount("rm -rf /v/out && mkdir /v/out && time -p tar -xf /t/files.tar -C /v/out"), "untar"));
                    Directory.Delete(Path.Combine(dir, "out"), recursive: true);
                }
                write.Sort();
                read.Sort();
                untar.Sort();
                table.Add(runtime, [Program.Median(write), Program.Median(read), Program.Median(untar)]);
            }
            catch (InvalidOperationException e)
            {
                table.Fail(runtime, e.Message);
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        table.Write(doc, plots);
    }

    /// <summary>Seconds of the step, from busybox `time -p`'s "real S" line on the container's stderr.</summary>
    private static double Timed(BenchDockerd docker, string[] args, string what)
    {
        (int rc, string stdout, string stderr) = docker.Docker(args, TimeSpan.FromMinutes(10));
        Match m = RealLine().Match(stderr);
        if (rc != 0 || !m.Success)
        {
            throw new InvalidOperationException($"{what} failed (exit {rc}): {BenchDockerd.OneLine(stderr + stdout)}");
        }
        return Math.Max(0.01, double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>A tar of <see cref="Files"/> files of 1 KiB (distinct contents) in 100 directories.</summary>
    private static void MakeTar(string tar, string src)
    {
        var data = new byte[1024];
        for (int d = 0; d < 100; d++)
        {
            string sub = Directory.CreateDirectory(Path.Combine(src, $"d{d:D2}")).FullName;
            for (int f = 0; f < Files / 100; f++)
            {
                BitConverter.TryWriteBytes(data, d * 1000 + f);
                File.WriteAllBytes(Path.Combine(sub, $"f{f:D3}.txt"), data);
            }
        }
        BenchDockerd.Must(Program.Run("/bin/tar", ["-C", src, "-cf", tar, "."], TimeSpan.FromMinutes(2)), "tar of the small files");
        Directory.Delete(src, recursive: true);
    }

    /// <summary>`sync` and drop the host's page cache; false where this process may not.</summary>
    private static bool DropHostCaches()
    {
        Program.Run("/bin/sync", [], TimeSpan.FromMinutes(2));
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3\n");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^real (\d+(?:\.\d+)?)", RegexOptions.Multiline)]
    private static partial Regex RealLine();
}
