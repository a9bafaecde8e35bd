using VmSandbox.Common;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The container's cgroup on the host (<c>linux.cgroupsPath</c>): the sandbox monitor joins it
/// before it starts QEMU and virtiofsd, so the whole sandbox is accounted where Docker and
/// containerd look (`docker stats` reads it through the shim). Limits stay in the guest, whose
/// kernel enforces them, except the cpuset, which pins the VM here (<see cref="SetCpuset"/>);
/// otherwise the host cgroup only holds and measures. `delete` removes it.
/// Paths resolve as runc's cgroupfs driver does: absolute paths from each hierarchy's root,
/// relative ones too (we have no parent to nest under), none at all as the container's ID
/// below the caller's own cgroup; the systemd form "slice:prefix:name" becomes
/// "&lt;slice path&gt;/prefix-name.scope" (no systemd calls: there may be no systemd).
/// </summary>
public static class HostCgroup
{
    /// <summary>
    /// The directories to create and join: one per v1 hierarchy, or the one v2 directory.
    /// Without a cgroupsPath, runc's default: "system.slice:runc:ID" with the systemd driver,
    /// else a cgroup named ID below the caller's own (<paramref name="ownCgroups"/>, the lines
    /// of /proc/self/cgroup; none given: no host cgroup).
    /// </summary>
    public static IReadOnlyList<string> Resolve(string? cgroupsPath, string id, bool systemd, IEnumerable<string> mountinfo, IEnumerable<string>? ownCgroups = null)
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            if (systemd)
            {
                cgroupsPath = "system.slice:runc:" + id;
            }
            else
            {
                return ownCgroups is null ? [] : BelowOwn(id, mountinfo, ownCgroups.ToList());
            }
        }
        string relative = systemd ? FromSystemd(cgroupsPath, id) : cgroupsPath.Trim('/');
        foreach (string part in relative.Split('/'))
        {
            if (part is "" or "." or "..")
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.cgroupsPath {cgroupsPath}: invalid path");
            }
        }
        var dirs = new List<string>();
        string? unified = null;
        foreach (var (fsType, mountPoint, _) in CgroupMounts(mountinfo))
        {
            if (fsType == "cgroup")
            {
                dirs.Add(Path.Combine(mountPoint, relative));
            }
            else
            {
                unified ??= Path.Combine(mountPoint, relative);
            }
        }
        // A v1 host may mount an empty v2 hierarchy beside its controllers: v1 wins then.
        return dirs.Count > 0 ? dirs.Distinct(StringComparer.Ordinal).ToList() : unified is null ? [] : [unified];
    }

    /// <summary>
    /// runc's cgroupfs default: "ID" below the caller's cgroup in each hierarchy. A v1 mount is
    /// matched to its /proc/self/cgroup line ("4:memory:/a/b") by a controller (or name=) that
    /// its super options name; a v2 mount takes the "0::/path" line.
    /// </summary>
    private static List<string> BelowOwn(string id, IEnumerable<string> mountinfo, List<string> ownCgroups)
    {
        var v1 = new List<string>();
        string? unified = null;
        foreach (var (fsType, mountPoint, options) in CgroupMounts(mountinfo))
        {
            if (fsType == "cgroup2")
            {
                string? own = ownCgroups.FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal));
                unified ??= own is null ? null : Path.Combine(mountPoint, own[3..].TrimStart('/'), id);
                continue;
            }
            var superOptions = options.Split(',').ToHashSet(StringComparer.Ordinal);
            foreach (string line in ownCgroups)
            {
                string[] fields = line.Split(':', 3);
                if (fields.Length == 3 && fields[1].Length > 0 && fields[1].Split(',').All(superOptions.Contains))
                {
                    v1.Add(Path.Combine(mountPoint, fields[2].TrimStart('/'), id));
                    break;
                }
            }
        }
        return v1.Count > 0 ? v1.Distinct(StringComparer.Ordinal).ToList() : unified is null ? [] : [unified];
    }

    /// <summary>The cgroup mounts of a mountinfo whose root is the hierarchy's root: (fstype, mount point, super options).</summary>
    private static IEnumerable<(string FsType, string MountPoint, string Options)> CgroupMounts(IEnumerable<string> mountinfo)
    {
        foreach (string line in mountinfo)
        {
            // mountinfo: id parent major:minor root mountpoint options [optional…] - fstype source superoptions
            string[] fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 0 || dash + 1 >= fields.Length || fields.Length < 5 || fields[3] != "/" || fields[dash + 1] is not ("cgroup" or "cgroup2"))
            {
                continue;
            }
            yield return (fields[dash + 1], MountInfo.Unescape(fields[4]), dash + 3 < fields.Length ? fields[dash + 3] : "");
        }
    }

    /// <summary>"system.slice:docker:ID" → "system.slice/docker-ID.scope" (a slice "a-b.slice" nests under "a.slice").</summary>
    internal static string FromSystemd(string cgroupsPath, string id)
    {
        string[] parts = cgroupsPath.Split(':');
        if (parts.Length != 3)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.cgroupsPath {cgroupsPath}: expected \"slice:prefix:name\" with --systemd-cgroup");
        }
        string slice = parts[0].Length == 0 ? "system.slice" : parts[0];
        string name = parts[2].Length == 0 ? id : parts[2];
        string scope = parts[1].Length == 0 ? $"{name}.scope" : $"{parts[1]}-{name}.scope";
        if (!slice.EndsWith(".slice", StringComparison.Ordinal))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.cgroupsPath {cgroupsPath}: {slice} is not a slice");
        }
        var nested = new List<string>();
        string stem = slice[..^".slice".Length];
        string prefix = "";
        foreach (string piece in stem.Split('-'))
        {
            prefix = prefix.Length == 0 ? piece : $"{prefix}-{piece}";
            nested.Add($"{prefix}.slice");
        }
        return string.Join('/', nested) + "/" + scope;
    }

    /// <summary>
    /// runc's refusal of a cgroup that is already frozen (v1 freezer.state FROZEN or FREEZING,
    /// v2 cgroup.freeze 1): a monitor moved into it would stop dead before it started the VM.
    /// </summary>
    public static void ThrowIfFrozen(IReadOnlyList<string> dirs)
    {
        foreach (string dir in dirs)
        {
            if (ReadOrEmpty(Path.Combine(dir, "freezer.state")) is "FROZEN" or "FREEZING" || ReadOrEmpty(Path.Combine(dir, "cgroup.freeze")) == "1")
            {
                throw new VmSandboxException(ErrorCode.FailedPrecondition, "container's cgroup unexpectedly frozen");
            }
        }
    }

    /// <summary>
    /// The processes already in the container's cgroup (distinct pids over every hierarchy):
    /// runc warns "container's cgroup is not empty" when a container joins one that has some.
    /// </summary>
    public static int CountProcesses(IReadOnlyList<string> dirs)
    {
        var pids = new HashSet<string>(StringComparer.Ordinal);
        foreach (string dir in dirs)
        {
            pids.UnionWith(ReadOrEmpty(Path.Combine(dir, "cgroup.procs")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        return pids.Count;
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>Creates the directories and moves <paramref name="pid"/> into each.</summary>
    public static void Join(IReadOnlyList<string> dirs, int pid)
    {
        foreach (string dir in dirs)
        {
            try
            {
                Directory.CreateDirectory(dir);
                InheritCpuset(dir);
                File.WriteAllText(Path.Combine(dir, "cgroup.procs"), pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new VmSandboxException(ErrorCode.System, $"join host cgroup {dir}", e);
            }
        }
    }

    /// <summary>
    /// The container's cpuset (<c>linux.resources.cpu.cpus/mems</c>) on its host cgroup, where
    /// it pins the sandbox's threads, QEMU's vCPUs among them, to those host CPUs and memory
    /// nodes. The guest does not apply it: its vCPU numbers are not the host's CPU numbers (the
    /// VM gets as many vCPUs as the set has CPUs). A directory without cpuset files (a v2
    /// cgroup whose parent has not delegated cpuset) is left alone.
    /// </summary>
    public static void SetCpuset(IReadOnlyList<string> dirs, string? cpus, string? mems)
    {
        foreach (string dir in dirs)
        {
            foreach (var (file, value) in (ReadOnlySpan<(string, string?)>)[("cpuset.mems", mems), ("cpuset.cpus", cpus)])
            {
                string path = Path.Combine(dir, file);
                if (string.IsNullOrEmpty(value) || !File.Exists(path))
                {
                    continue;
                }
                try
                {
                    File.WriteAllText(path, value);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // runc's words: failed to write "7": write …/cpuset.cpus: invalid argument
                    throw new VmSandboxException(ErrorCode.InvalidArgument, $"failed to write \"{value}\": {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems and refuses tasks
    /// (ENOSPC) until they are set: copy them down from the nearest ancestor, as runc does.
    /// </summary>
    private static void InheritCpuset(string dir)
    {
        foreach (string file in (string[])["cpuset.cpus", "cpuset.mems"])
        {
            string path = Path.Combine(dir, file);
            if (!File.Exists(path) || File.ReadAllText(path).Trim().Length > 0)
            {
                continue;
            }
            string? parent = Path.GetDirectoryName(dir);
            if (parent is null || !File.Exists(Path.Combine(parent, file)))
            {
                continue;
            }
            InheritCpuset(parent);
            File.WriteAllText(path, File.ReadAllText(Path.Combine(parent, file)).Trim());
        }
    }

    /// <summary>Removes the directories once their processes are gone (bounded wait); true when all are gone.</summary>
    public static bool Remove(IReadOnlyList<string> dirs, TimeSpan wait)
    {
        DateTime deadline = DateTime.UtcNow + wait;
        bool all = true;
        foreach (string dir in dirs)
        {
            while (true)
            {
                try
                {
                    if (Directory.Exists(dir))
                    {
                        // rmdir(2) of a cgroup: its control files are not real files, so no recursion.
                        Directory.Delete(dir, recursive: false);
                    }
                    break;
                }
                catch (IOException) when (DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(50); // EBUSY: QEMU or virtiofsd still exiting
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    all = false;
                    break;
                }
            }
        }
        return all;
    }
}
