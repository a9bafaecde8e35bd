using System.Globalization;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// Reads /proc/PID/stat: is a process alive (not a zombie), is it the one we started, and which
/// host processes descend from it?
/// </summary>
public static class ProcessProbe
{
    /// <summary>Field 22 (starttime) of /proc/PID/stat, or null when the process is gone.</summary>
    public static ulong? StartTime(int pid) => Read(pid)?.StartTime;

    /// <summary>/proc/PID/stat's fields, or null when the process is gone (reaped).</summary>
    public static ProcStat? Read(int pid) => Parse(ReadStat(pid));

    public static bool IsAlive(int pid, ulong startTime)
    {
        ProcStat? stat = Read(pid);
        return stat is { } s && s.State is not ('Z' or 'X' or 'x') && (startTime == 0 || s.StartTime == startTime);
    }

    /// <summary>
    /// <paramref name="root"/> and every live process below it (children, grandchildren…), in
    /// ascending PID order; empty when <paramref name="root"/> is gone. One pass over /proc.
    /// </summary>
    public static List<int> SelfAndDescendants(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && Parse(ReadStat(pid)) is { State: not ('Z' or 'X' or 'x') } stat)
            {
                if (!children.TryGetValue(stat.Ppid, out List<int>? list))
                {
                    children[stat.Ppid] = list = [];
                }
                list.Add(pid);
            }
        }
        var found = new List<int>();
        if (!Directory.Exists($"/proc/{root.ToString(CultureInfo.InvariantCulture)}"))
        {
            return found;
        }
        var pending = new Stack<int>([root]);
        while (pending.TryPop(out int pid))
        {
            found.Add(pid);
            foreach (int child in children.GetValueOrDefault(pid) ?? [])
            {
                pending.Push(child);
            }
        }
        found.Sort();
        return found;
    }

    private static string? ReadStat(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Parses "pid (comm) S ppid ..." — comm may hold spaces and parentheses, so split after the last ')'.</summary>
    public static ProcStat? Parse(string? stat)
    {
        if (stat is null)
        {
            return null;
        }
        int close = stat.LastIndexOf(')');
        if (close < 0 || close + 2 >= stat.Length)
        {
            return null;
        }
        string[] rest = stat[(close + 2)..].Split(' ');
        // rest[0] is field 3 (state), rest[1] field 4 (ppid); starttime is field 22 → rest[19].
        if (rest.Length < 20 || rest[0].Length != 1
            || !int.TryParse(rest[1], NumberStyles.None, CultureInfo.InvariantCulture, out int ppid)
            || !ulong.TryParse(rest[19], CultureInfo.InvariantCulture, out ulong start))
        {
            return null;
        }
        return new ProcStat(rest[0][0], ppid, start);
    }
}

/// <summary>The fields of /proc/PID/stat the runtime uses.</summary>
public readonly record struct ProcStat(char State, int Ppid, ulong StartTime);
