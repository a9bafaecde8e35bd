using VmSandbox.Common;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// A container path resolved inside the rootfs as the container would resolve it: symlinks in
/// the image are followed with the rootfs as "/", and ".." stops at it, so a hostile image cannot
/// point a mount destination ("/data" → "/", "/x" → "../../../sbin") at the guest's own files
/// (the agent, its initramfs). This is what runc's filepath-securejoin does (CVE-2021-30465's
/// class of bug). Components that do not exist yet are taken as they are: the caller creates them.
/// It runs before any container process exists, so nothing in the container can race it.
/// </summary>
public static class SecureJoin
{
    /// <summary>Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS).</summary>
    private const int MaxSymlinks = 40;

    /// <returns><paramref name="root"/> (no trailing slash) followed by the resolved path, "/"-separated.</returns>
    public static string Resolve(string root, string unsafePath)
    {
        root = root.TrimEnd('/');
        var pending = new Stack<string>(Components(unsafePath).Reverse());
        var resolved = new List<string>();
        int links = 0;
        while (pending.TryPop(out string? part))
        {
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }
                continue;
            }
            resolved.Add(part);
            string host = root + "/" + string.Join('/', resolved);
            string? target = new FileInfo(host).LinkTarget;
            if (target is null)
            {
                continue; // a directory, a file, or nothing yet
            }
            if (++links > MaxSymlinks)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"{unsafePath}: too many levels of symbolic links in the rootfs");
            }
            resolved.RemoveAt(resolved.Count - 1);
            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }
            foreach (string t in Components(target).Reverse())
            {
                pending.Push(t);
            }
        }
        return root + "/" + string.Join('/', resolved);
    }

    private static IEnumerable<string> Components(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");
}
