using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Shim;

/// <summary>
/// The snapshot containerd hands Create (CreateTaskRequest.rootfs: an overlay or a bind, with
/// mount(8)-style options) mounted on the bundle's rootfs/, where the spec's root.path points,
/// and taken off again at delete. The virtio-fs share then exports it to the guest as any rootfs.
/// </summary>
public sealed class RootfsMount
{
    private const int MNT_DETACH = 2;

    // mount(8) option words that are flags, not file-system data (containerd's mount_linux.go table).
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> s_flags = new(StringComparer.Ordinal)
    {
        ["ro"] = (false, Mount.MS_RDONLY),
        ["rw"] = (true, Mount.MS_RDONLY),
        ["nosuid"] = (false, Mount.MS_NOSUID),
        ["suid"] = (true, Mount.MS_NOSUID),
        ["nodev"] = (false, Mount.MS_NODEV),
        ["dev"] = (true, Mount.MS_NODEV),
        ["noexec"] = (false, Mount.MS_NOEXEC),
        ["exec"] = (true, Mount.MS_NOEXEC),
        ["noatime"] = (false, Mount.MS_NOATIME),
        ["nodiratime"] = (false, Mount.MS_NODIRATIME),
        ["bind"] = (false, Mount.MS_BIND),
        ["rbind"] = (false, Mount.MS_BIND | Mount.MS_REC),
        ["sync"] = (false, Mount.MS_SYNCHRONOUS),
        ["remount"] = (false, Mount.MS_REMOUNT),
    };

    private RootfsMount(string target)
    {
        Target = target;
    }

    public string Target { get; }

    /// <summary>Mounts <paramref name="mounts"/> in order on BUNDLE/rootfs; none: the bundle's own rootfs is used as it is.</summary>
    public static RootfsMount? MountAll(string bundle, IReadOnlyList<Protocol.Mount> mounts)
    {
        if (mounts.Count == 0)
        {
            return null;
        }
        string target = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(target);
        var mounted = new RootfsMount(target);
        int done = 0;
        try
        {
            foreach (Protocol.Mount m in mounts)
            {
                (ulong flags, string? data) = ParseOptions(m.Options);
                string type = m.Type == "bind" ? "none" : m.Type;
                if (m.Type == "bind")
                {
                    flags |= Mount.MS_BIND;
                }
                Mount.Do(m.Source, target, type, flags & ~Mount.MS_RDONLY, data);
                done++;
                if ((flags & Mount.MS_RDONLY) != 0 && (flags & Mount.MS_BIND) != 0)
                {
                    // A bind ignores MS_RDONLY on the first call (mount(2)): remount it read-only.
                    Mount.Do("", target, "", Mount.MS_BIND | Mount.MS_REMOUNT | Mount.MS_RDONLY);
                }
            }
            return mounted;
        }
        catch
        {
            for (int i = 0; i < done; i++)
            {
                _ = Mount.TryUnmount(target, MNT_DETACH);
            }
            throw;
        }
    }

    /// <summary>Splits option words into mount flags and the file system's data string.</summary>
    public static (ulong Flags, string? Data) ParseOptions(IEnumerable<string> options)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (string o in options)
        {
            if (s_flags.TryGetValue(o, out var f))
            {
                flags = f.Clear ? flags & ~f.Flag : flags | f.Flag;
            }
            else if (o.Contains(',', StringComparison.Ordinal))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"rootfs mount option {o}: a comma inside one option");
            }
            else
            {
                data.Add(o);
            }
        }
        return (flags, data.Count == 0 ? null : string.Join(',', data));
    }

    /// <summary>Takes every layer off the target (lazily: a process may still hold a file open).</summary>
    public void Unmount()
    {
        for (int i = 0; i < 8 && Mount.TryUnmount(Target, MNT_DETACH) == 0; i++)
        {
        }
    }

    /// <summary>For `shim delete` after a lost shim: whatever is mounted on BUNDLE/rootfs goes.</summary>
    public static void UnmountLeftovers(string bundle) => new RootfsMount(Path.Combine(bundle, "rootfs")).Unmount();
}
