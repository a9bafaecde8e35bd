using System.Globalization;

namespace VmSandbox.Bench;

/// <summary>
/// The host processes a runtime keeps for one Docker container: every descendant of the
/// container's containerd-shim-runc-v2 (a child subreaper, so the runtime's daemonised
/// processes end up under it: for vmsandbox the monitor, QEMU and virtiofsd; for runsc its
/// sandbox and gofer; for runc the container's own process). The shim itself, Docker's and the
/// same for every runtime, is left out.
/// </summary>
internal static class SandboxProcesses
{
    /// <summary>The PIDs under the shim of container <paramref name="fullId"/>; empty when it has none.</summary>
    public static List<int> Of(string fullId)
    {
        var parents = new Dictionary<int, int>();
        int shim = -1;
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }
            try
            {
                // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                if (shim < 0 && File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0') is { } argv
                    && argv[0].EndsWith("containerd-shim-runc-v2", StringComparison.Ordinal) && argv.Contains(fullId))
                {
                    shim = pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile
            }
        }
        var found = new List<int>();
        if (shim < 0)
        {
            return found;
        }
        var frontier = new Queue<int>([shim]);
        while (frontier.TryDequeue(out int p))
        {
            foreach (int child in parents.Where(kv => kv.Value == p).Select(kv => kv.Key))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }
        return found;
    }

    /// <summary>Sum of the PSS of <paramref name="pids"/>, in MiB (smaps_rollup).</summary>
    public static double PssMiB(IEnumerable<int> pids) => pids.Sum(LifecycleBench.Pss) / 1024;

    /// <summary>The processes' names (comm), distinct, for the page to say what was counted.</summary>
    public static string Names(IEnumerable<int> pids) =>
        string.Join(", ", pids.Select(p =>
        {
            try
            {
                return File.ReadAllText($"/proc/{p}/comm").Trim();
            }
            catch (IOException)
            {
                return null;
            }
        }).Where(n => n is not null).Distinct().Order(StringComparer.Ordinal));
}
