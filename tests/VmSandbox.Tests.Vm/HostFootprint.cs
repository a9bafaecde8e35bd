using System.Globalization;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// What the sandboxes of one <see cref="BundleFixture"/> hold on the host at one moment: open
/// files (the host's, /proc/sys/fs/file-nr, and this test process's), processes (QEMU,
/// virtiofsd, monitors and relays: every command line naming the fixture's directory, and any
/// child of this process), mounts, MemAvailable, what is left under the state directories, tap
/// devices and Unix sockets. The load tests take one before, one at the peak and one after.
/// </summary>
internal sealed record HostFootprint(
    long FilesAllocated,
    int OwnFds,
    IReadOnlyList<string> Processes,
    int MountLines,
    IReadOnlyList<string> OurMounts,
    long MemAvailableMiB,
    long ShmemMiB,
    IReadOnlyList<string> StateEntries,
    IReadOnlyList<string> TapDevices,
    int Sockets)
{
    public static HostFootprint Take(BundleFixture fx, string root)
    {
        string dir = fx.Dir;
        string[] mounts = File.ReadAllLines("/proc/self/mountinfo");
        string runs = Path.Combine(fx.StateRoot, ".s");
        return new HostFootprint(
            long.Parse(File.ReadAllText("/proc/sys/fs/file-nr").Split('\t', ' ')[0], CultureInfo.InvariantCulture),
            Directory.GetFileSystemEntries("/proc/self/fd").Length,
            OurProcesses(dir),
            mounts.Length,
            [.. mounts.Where(m => m.Contains(dir, StringComparison.Ordinal) || m.Contains("vmsandbox", StringComparison.Ordinal))],
            MemInfoMiB("MemAvailable:"),
            MemInfoMiB("Shmem:"),
            [.. Directory.GetFileSystemEntries(root), .. Directory.Exists(runs) ? Directory.GetFileSystemEntries(runs) : []],
            [.. Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).Where(n => n!.StartsWith("tap", StringComparison.Ordinal)).Select(n => n!)],
            File.ReadLines("/proc/net/unix").Count(l => l.Contains(dir, StringComparison.Ordinal)));
    }

    /// <summary>Our sandboxes' processes as "PID NAME" ("123 qemu-system-x86_64"), and this process's children.</summary>
    private static List<string> OurProcesses(string dir)
    {
        var found = new SortedSet<int>(TestEnvironment.ProcessesMatching(dir));
        found.UnionWith(ProcessProbe.SelfAndDescendants(Environment.ProcessId).Where(p => p != Environment.ProcessId));
        return [.. found.Select(p => $"{p} {Name(p)}")];
    }

    private static string Name(int pid)
    {
        try
        {
            string argv0 = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0')[0];
            return Path.GetFileName(argv0);
        }
        catch (IOException)
        {
            return "gone";
        }
    }

    private static long MemInfoMiB(string field)
    {
        string line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    /// <summary>This process's own descriptors may exceed the first count by this many: pipes of CLI calls whose readers let go late.</summary>
    public const int OwnFdSlack = 16;

    /// <summary>
    /// MemAvailable and Shmem are the whole host's, and this host is shared: other sessions'
    /// builds (a NativeAOT link takes about 1 GiB) and VMs move MemAvailable by gigabytes within a
    /// minute (seen: 20.2 → 17.0 GiB in 55 s with no test of ours running). A sandbox left behind
    /// would hold its guest's RAM (a memfd, counted in Shmem) and its QEMU; the process and
    /// socket checks catch the QEMU exactly, so these two only need to catch memory that outlives
    /// every process (a memfd or tmpfs file kept alive), in bulk: the tolerance is the larger of
    /// a fixed floor and one sandbox's share of what the peak took.
    /// </summary>
    public const long MemAvailableSlackMiB = 2048;

    /// <summary>Shmem moves less with builds (they use little shared memory); other sessions' VMs still move it.</summary>
    public const long ShmemSlackMiB = 512;

    /// <summary>file-nr counts every open file on the host; other sessions' builds move it by about a thousand.</summary>
    public const long FilesSlack = 1024;

    /// <summary>
    /// What of the sandboxes is still on the host compared with <paramref name="before"/>, or null
    /// when nothing is: no process, mount, state entry, tap device or socket of ours; this
    /// process's descriptors within <see cref="OwnFdSlack"/>; the host's open files and memory
    /// within their slack or one sandbox's share of the <paramref name="peak"/>, whichever is larger.
    /// </summary>
    public string? WhatIsLeft(HostFootprint before, HostFootprint peak, int sandboxes)
    {
        var left = new List<string>();
        if (Processes.Count > 0)
        {
            left.Add($"processes: {string.Join(", ", Processes)}");
        }
        if (OurMounts.Count > 0 || MountLines != before.MountLines)
        {
            left.Add($"mountinfo {MountLines} lines ({before.MountLines} before): {string.Join(" | ", OurMounts)}");
        }
        if (StateEntries.Count > 0)
        {
            left.Add($"state entries: {string.Join(", ", StateEntries)}");
        }
        if (TapDevices.Except(before.TapDevices).ToList() is { Count: > 0 } taps)
        {
            left.Add($"tap devices: {string.Join(", ", taps)}");
        }
        if (Sockets > 0)
        {
            left.Add($"{Sockets} unix sockets under the fixture");
        }
        if (OwnFds > before.OwnFds + OwnFdSlack)
        {
            left.Add($"{OwnFds} own descriptors ({before.OwnFds} before): {DescribeOwnFds()}");
        }
        long files = Math.Max(FilesSlack, (peak.FilesAllocated - before.FilesAllocated) / sandboxes);
        if (FilesAllocated > before.FilesAllocated + files)
        {
            left.Add($"file-nr {FilesAllocated} ({before.FilesAllocated} before, tolerance {files})");
        }
        long mem = Math.Max(MemAvailableSlackMiB, (before.MemAvailableMiB - peak.MemAvailableMiB) / sandboxes);
        if (MemAvailableMiB < before.MemAvailableMiB - mem)
        {
            left.Add($"MemAvailable {MemAvailableMiB} MiB ({before.MemAvailableMiB} before, tolerance {mem})");
        }
        long shmem = Math.Max(ShmemSlackMiB, (peak.ShmemMiB - before.ShmemMiB) / sandboxes);
        if (ShmemMiB > before.ShmemMiB + shmem)
        {
            left.Add($"Shmem {ShmemMiB} MiB ({before.ShmemMiB} before, tolerance {shmem})");
        }
        return left.Count == 0 ? null : string.Join("; ", left);
    }

    /// <summary>What this process's open descriptors are, by target, most frequent first (for a failure's message).</summary>
    public static string DescribeOwnFds() => string.Join(", ", Directory.GetFileSystemEntries("/proc/self/fd")
        .Select(f =>
        {
            try
            {
                string? target = File.ResolveLinkTarget(f, returnFinalTarget: false)?.ToString();
                return target is null ? "?" : System.Text.RegularExpressions.Regex.Replace(target, @"\[\d+\]|/\d+$", "[n]");
            }
            catch (IOException)
            {
                return "gone";
            }
        })
        .GroupBy(t => t).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()}× {g.Key}"));

    /// <summary>How many of <see cref="Processes"/> are QEMU, virtiofsd and vmsandbox (monitors, relays).</summary>
    public string ProcessSummary() =>
        $"{Count("qemu-system")} qemu, {Count("virtiofsd")} virtiofsd, {Count("vmsandbox")} vmsandbox, {Processes.Count} in all";

    private int Count(string name) => Processes.Count(p => p.Split(' ', 2)[1].StartsWith(name, StringComparison.Ordinal));

    /// <summary>The figures of one snapshot, for a reliability row.</summary>
    public string Figures(HostFootprint before) => string.Create(CultureInfo.InvariantCulture,
        $"{ProcessSummary()}; file-nr {FilesAllocated} ({FilesAllocated - before.FilesAllocated:+#;-#;0}), own fds {OwnFds} ({OwnFds - before.OwnFds:+#;-#;0}), "
        + $"mountinfo {MountLines} lines ({OurMounts.Count} ours), MemAvailable {MemAvailableMiB} MiB ({MemAvailableMiB - before.MemAvailableMiB:+#;-#;0}), Shmem {ShmemMiB} MiB ({ShmemMiB - before.ShmemMiB:+#;-#;0}), "
        + $"state entries {StateEntries.Count}, tap devices {TapDevices.Count}, sockets {Sockets}");
}
