namespace VmSandbox.Runtime.Containers;

/// <summary>--pid-file, as runc writes it.</summary>
public static class PidFile
{
    /// <summary>Written atomically (temp file + rename), no newline.</summary>
    public static void Write(string path, int pid)
    {
        string full = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full));
        File.WriteAllText(tmp, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.Move(tmp, full, overwrite: true);
    }
}
