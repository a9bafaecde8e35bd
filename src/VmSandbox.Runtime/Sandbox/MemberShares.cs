using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A pod member's files in its pod's running share (ADR 0017): its rootfs and bind sources are
/// attached under <c>c/KEY/</c> of the share inside virtiofsd's own mount namespace, where the
/// share is the root, so the guest finds them and the host sees no mount of ours. Each source is
/// cloned as a detached mount tree in the monitor's namespace first (open_tree), then, on a
/// throw-away thread that joined virtiofsd's namespace, attached (move_mount). Removal unmounts
/// them there the same way.
/// </summary>
public static class MemberShares
{
    public static void Add(int virtiofsdPid, IReadOnlyList<ShareBind> binds, string prefix)
    {
        var trees = new List<(SafeFd Tree, string Target, bool Directory)>();
        try
        {
            foreach (ShareBind b in binds)
            {
                ThrowIfOutside(b.Target, prefix);
                bool isDir = Directory.Exists(b.Source);
                if (!isDir && !File.Exists(b.Source))
                {
                    throw new VmSandboxException(ErrorCode.NotFound, $"bind source {b.Source}: no such file or directory");
                }
                trees.Add((Mount.CloneTree(b.Source), b.Target, isDir));
            }
            InNamespaceOf(virtiofsdPid, () =>
            {
                foreach ((SafeFd tree, string target, bool isDir) in trees)
                {
                    string path = "/" + target;
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    if (isDir)
                    {
                        Directory.CreateDirectory(path);
                    }
                    else if (!File.Exists(path))
                    {
                        File.WriteAllBytes(path, []);
                    }
                    Mount.MoveDetached(tree, path);
                }
            });
        }
        finally
        {
            foreach ((SafeFd tree, _, _) in trees)
            {
                tree.Dispose();
            }
        }
    }

    /// <summary>Takes everything under <paramref name="prefix"/> off the share (lazily: the guest may still hold files).</summary>
    public static void Remove(int virtiofsdPid, string prefix)
    {
        string root = "/" + prefix.TrimEnd('/');
        // Read from outside: inside, the share is the root and there is no /proc. The mount
        // points are relative to virtiofsd's root, the share, as the paths used in there.
        List<string> mounts = SandboxPlan.MountPoints(File.ReadLines($"/proc/{virtiofsdPid}/mountinfo"))
            .Where(m => m == root || m.StartsWith(root + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Length)
            .ToList();
        InNamespaceOf(virtiofsdPid, () =>
        {
            foreach (string m in mounts)
            {
                _ = Mount.TryUnmount(m, Mount.MNT_DETACH);
            }
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        });
    }

    private static void ThrowIfOutside(string target, string prefix)
    {
        if (!target.StartsWith(prefix, StringComparison.Ordinal) || target.Contains("..", StringComparison.Ordinal) || !prefix.StartsWith("c/", StringComparison.Ordinal))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"pod member bind target {target} is outside {prefix}");
        }
    }

    /// <summary>Runs <paramref name="action"/> on a new thread inside the mount namespace (and root) of <paramref name="pid"/>.</summary>
    private static void InNamespaceOf(int pid, Action action)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using SafeFd ns = FileSystemCalls.Open($"/proc/{pid}/ns/mnt", FileSystemCalls.O_RDONLY);
                // setns(CLONE_NEWNS) refuses a thread sharing its fs struct; the thread dies after, namespace and all.
                Namespace.Unshare(Namespace.CLONE_FS);
                Namespace.Join(ns, Namespace.CLONE_NEWNS, $"/proc/{pid}/ns/mnt");
                action();
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 256 * 1024)
        { Name = "member-share" };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            throw error is VmSandboxException ? error : new VmSandboxException(ErrorCode.System, "pod member share", error);
        }
    }
}
