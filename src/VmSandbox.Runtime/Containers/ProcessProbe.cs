using System.Globalization;

namespace VmSandbox.Runtime.Containers;

/// <summary>Reads /proc/PID/stat: is a process alive (not a zombie), and is it the one we started?</summary>
public static class ProcessProbe
{
    /// <summary>Field 22 (starttime) of /proc/PID/stat, or null when the process is gone.</summary>
    public static ulong? StartTime(int pid) => Parse(ReadStat(pid))?.StartTime;

    public static bool IsAlive(int pid, ulong startTime)
    {
        (char State, ulong StartTime)? stat = Parse(ReadStat(pid));
        return stat is { } s && s.State is not ('Z' or 'X' or 'x') && (startTime == 0 || s.StartTime == startTime);
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
    public static (char State, ulong StartTime)? Parse(string? stat)
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
        // rest[0] is field 3 (state); starttime is field 22 → rest[19].
        if (rest.Length < 20 || rest[0].Length != 1 || !ulong.TryParse(rest[19], CultureInfo.InvariantCulture, out ulong start))
        {
            return null;
        }
        return (rest[0][0], start);
    }
}
