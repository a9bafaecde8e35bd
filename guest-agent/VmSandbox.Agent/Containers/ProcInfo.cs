using System.Globalization;
using VmSandbox.Agent.Protocol;

namespace VmSandbox.Agent.Containers;

/// <summary>Reads a process's /proc entries (stat for the ppid, comm, cmdline) into a <see cref="ProcessInfo"/>.</summary>
public static class ProcInfo
{
    /// <summary>The process's info, or null when it is gone.</summary>
    public static ProcessInfo? Read(int pid)
    {
        try
        {
            string dir = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
            var info = new ProcessInfo
            {
                Pid = (uint)pid,
                Ppid = ParentOf(File.ReadAllText($"{dir}/stat")),
                Command = File.ReadAllText($"{dir}/comm").TrimEnd('\n'),
            };
            info.Args.AddRange(Arguments(File.ReadAllBytes($"{dir}/cmdline")));
            return info;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The 4th field of /proc/PID/stat; comm (2nd, in parentheses) may hold spaces and ')'.</summary>
    public static uint ParentOf(string stat)
    {
        int close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return 0;
        }
        string[] rest = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return rest.Length > 1 && uint.TryParse(rest[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint ppid) ? ppid : 0;
    }

    /// <summary>NUL-separated arguments (a trailing NUL ends the last one).</summary>
    public static IEnumerable<string> Arguments(byte[] cmdline)
    {
        string text = System.Text.Encoding.UTF8.GetString(cmdline);
        if (text.EndsWith('\0'))
        {
            text = text[..^1];
        }
        return text.Length == 0 ? [] : text.Split('\0');
    }
}
