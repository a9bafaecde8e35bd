namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Where a file bind source goes in the share so that the container's mountinfo shows the root
/// runc would show. Field 4 of mountinfo is the bind's path inside its file system; in the guest
/// that file system is the share (a file is never a virtio-fs submount), so a file at share path
/// <c>var/lib/docker/containers/ID/hosts</c> shows <c>/var/lib/docker/containers/ID/hosts</c>, as
/// with runc, and tools that find the container's ID there (from /etc/hostname's mount) still do.
/// A directory source is a submount in the guest, a file system of its own whose root is the
/// source: its root reads "/" wherever it sits in the share, so directories keep <c>m/N</c>.
/// </summary>
public static class FileBindLayout
{
    /// <summary>Top-level names of the share's own layout (rootfs, m/N, pod members' c/KEY/), which a host path must not take.</summary>
    private static readonly string[] s_reserved = ["rootfs", "m", "c"];

    /// <summary>
    /// The root field runc's bind of <paramref name="source"/> shows: the path of the source inside
    /// the host file system it lies on (the root of the last mount over the longest mount point
    /// above it, plus the rest of the path); null when no mount holds it or it is not a clean
    /// absolute path. Symlinks are not resolved: see <see cref="IsFileWithoutSymlinks"/>.
    /// </summary>
    public static string? HostRoot(string source, IEnumerable<string> mountinfo)
    {
        if (!source.StartsWith('/') || source.Split('/').Skip(1).Any(p => p is "" or "." or ".."))
        {
            return null;
        }
        string? bestPoint = null;
        string? bestRoot = null;
        foreach (string line in mountinfo)
        {
            string[] f = line.Split(' ');
            if (f.Length < 5)
            {
                continue;
            }
            string point = Common.MountInfo.Unescape(f[4]);
            bool holds = point == "/" || source == point || source.StartsWith(point + "/", StringComparison.Ordinal);
            // Later lines are mounted later: the last one on the longest point is the one seen.
            if (holds && (bestPoint is null || point.Length >= bestPoint.Length))
            {
                bestPoint = point;
                bestRoot = Common.MountInfo.Unescape(f[3]);
            }
        }
        if (bestPoint is null || bestRoot is null || !bestRoot.StartsWith('/'))
        {
            return null;
        }
        string rest = bestPoint == "/" ? source : source[bestPoint.Length..];
        return bestRoot.TrimEnd('/') + rest;
    }

    /// <summary>
    /// True for an existing file reached through no symlink (the only I/O here): the kernel shows
    /// the resolved path of a bind, so only such a source's path is the root runc would show.
    /// </summary>
    public static bool IsFileWithoutSymlinks(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        string walked = "";
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            walked += "/" + part;
            if (new FileInfo(walked).LinkTarget is not null)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The share path for a file source whose host root is <paramref name="hostRoot"/>, or null
    /// when it cannot have one: not a clean path below "/", a name of the share's own layout at the
    /// top, or the same as, above or below a path already <paramref name="taken"/> (a second empty
    /// mount-point file would be written through the first bind onto the host file).
    /// </summary>
    public static string? Target(string? hostRoot, IEnumerable<string> taken)
    {
        if (hostRoot is null || !hostRoot.StartsWith('/'))
        {
            return null;
        }
        string target = hostRoot[1..];
        string[] parts = target.Split('/');
        if (parts.Any(p => p is "" or "." or "..") || s_reserved.Contains(parts[0], StringComparer.Ordinal))
        {
            return null;
        }
        foreach (string t in taken)
        {
            if (t == target || t.StartsWith(target + "/", StringComparison.Ordinal) || target.StartsWith(t + "/", StringComparison.Ordinal))
            {
                return null;
            }
        }
        return target;
    }
}
