using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using VmSandbox.TestSupport.Containerd;

namespace VmSandbox.TestSupport;

/// <summary>
/// The host as /proc shows it: live processes with their argv, mount points, and the two
/// syscalls the fixture needs to clean up after a crashed shim (kill, umount2).
/// </summary>
public static partial class HostProcesses
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    private const int MNT_DETACH = 2;

    public sealed record Proc(int Pid, string[] Argv)
    {
        public string CommandLine => string.Join(' ', Argv);
    }

    /// <summary>
    /// Every live process but this one. Zombies are left out: their argv is empty, and this
    /// machine's PID 1 does not always reap the shims that containerd's `start` orphaned.
    /// </summary>
    public static List<Proc> All()
    {
        var found = new List<Proc>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Length > 0)
                {
                    found.Add(new Proc(pid, cmdline.TrimEnd('\0').Split('\0')));
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    /// <summary>Live processes with <paramref name="id"/> in their command line (ids are unique to a test).</summary>
    public static List<Proc> Mentioning(string id) =>
        All().Where(p => p.Argv.Any(a => a.Contains(id, StringComparison.Ordinal))).ToList();

    /// <summary>What a VM-backed container runs on the host: QEMU, virtiofsd, our CLI (the monitor) and shim.</summary>
    public static List<Proc> SandboxProcesses() =>
        All().Where(p => Path.GetFileName(p.Argv[0]) is var name
            && (name.StartsWith("qemu-system", StringComparison.Ordinal) || name is "virtiofsd" or "vmsandbox" or ShimRuntime.VmSandboxShimFile)).ToList();

    /// <summary>The parent of <paramref name="pid"/>, or 0 when it is gone.</summary>
    public static int ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // "pid (comm) S ppid …": the fields after the last ')'.
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>True while <paramref name="pid"/> exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // "pid (comm) S …": comm may hold spaces and parentheses, the state follows the last ')'.
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The process's working directory, or null when it is gone.</summary>
    public static string? WorkingDirectory(int pid)
    {
        try
        {
            return new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static bool Kill(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>Mount points at or under <paramref name="prefix"/>, deepest last (as mounted).</summary>
    public static List<string> MountsUnder(string prefix)
    {
        string dir = prefix.TrimEnd('/');
        return File.ReadAllLines("/proc/self/mountinfo")
            .Select(l => Unescape(l.Split(' ')[4]))
            .Where(m => m == dir || m.StartsWith(dir + "/", StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>Detaches every mount under <paramref name="prefix"/>, children first.</summary>
    public static void UnmountUnder(string prefix)
    {
        foreach (string target in Enumerable.Reverse(MountsUnder(prefix)))
        {
            _ = umount2(target, MNT_DETACH);
        }
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)).
    private static string Unescape(string field) =>
        OctalEscape().Replace(field, m => ((char)Convert.ToInt32(m.Value[1..], 8)).ToString());

    [GeneratedRegex(@"\\[0-7]{3}")]
    private static partial Regex OctalEscape();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
    private static extern int umount2(string target, int flags);
}
