using VmSandbox.Common;
using MountCalls = VmSandbox.Interop.Mount;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// An OCI mount's options split the way runc's parseMountOptions does: MS_* flags to set,
/// flags a later "rw"/"suid"… clears, propagation flags (applied by a separate mount call),
/// recursive attributes ("rro", "rnosuid"…: MOUNT_ATTR_* for mount_setattr(2) with
/// AT_RECURSIVE), and the rest as the file system's data string ("mode=755,size=65536k").
/// </summary>
public sealed record MountOptions(ulong Flags, ulong PropagationFlags, string Data)
{
    // runc's recAttrFlags: (attr_set, attr_clr). The atime modes are an enum in the kernel: a
    // change names the whole field in attr_clr.
    private static readonly Dictionary<string, (ulong Set, ulong Clear)> s_recursive = new(StringComparer.Ordinal)
    {
        ["rro"] = (MountCalls.MOUNT_ATTR_RDONLY, 0),
        ["rrw"] = (0, MountCalls.MOUNT_ATTR_RDONLY),
        ["rnosuid"] = (MountCalls.MOUNT_ATTR_NOSUID, 0),
        ["rsuid"] = (0, MountCalls.MOUNT_ATTR_NOSUID),
        ["rnodev"] = (MountCalls.MOUNT_ATTR_NODEV, 0),
        ["rdev"] = (0, MountCalls.MOUNT_ATTR_NODEV),
        ["rnoexec"] = (MountCalls.MOUNT_ATTR_NOEXEC, 0),
        ["rexec"] = (0, MountCalls.MOUNT_ATTR_NOEXEC),
        ["rnodiratime"] = (MountCalls.MOUNT_ATTR_NODIRATIME, 0),
        ["rdiratime"] = (0, MountCalls.MOUNT_ATTR_NODIRATIME),
        ["rrelatime"] = (MountCalls.MOUNT_ATTR_RELATIME, MountCalls.MOUNT_ATTR__ATIME),
        ["rnorelatime"] = (MountCalls.MOUNT_ATTR_STRICTATIME, MountCalls.MOUNT_ATTR__ATIME),
        ["rnoatime"] = (MountCalls.MOUNT_ATTR_NOATIME, MountCalls.MOUNT_ATTR__ATIME),
        ["ratime"] = (MountCalls.MOUNT_ATTR_RELATIME, MountCalls.MOUNT_ATTR__ATIME),
        ["rstrictatime"] = (MountCalls.MOUNT_ATTR_STRICTATIME, MountCalls.MOUNT_ATTR__ATIME),
        ["rnostrictatime"] = (MountCalls.MOUNT_ATTR_RELATIME, MountCalls.MOUNT_ATTR__ATIME),
        ["rnosymfollow"] = (MountCalls.MOUNT_ATTR_NOSYMFOLLOW, 0),
        ["rsymfollow"] = (0, MountCalls.MOUNT_ATTR_NOSYMFOLLOW),
    };

    /// <summary>MOUNT_ATTR_* to set on the mount and every mount below it.</summary>
    public ulong RecursiveSet { get; init; }

    /// <summary>MOUNT_ATTR_* to clear on the mount and every mount below it.</summary>
    public ulong RecursiveClear { get; init; }

    /// <summary>runc's "tmpcopyup" extension: a tmpfs starts with a copy of the directory it covers (<see cref="TmpfsCopyUp"/>).</summary>
    public bool CopyUp { get; init; }

    /// <summary>True when a recursive option was given (mount_setattr must run).</summary>
    public bool HasRecursive => RecursiveSet != 0 || RecursiveClear != 0;

    private static readonly Dictionary<string, (bool Clear, ulong Flag)> s_flags = new(StringComparer.Ordinal)
    {
        ["acl"] = (false, MountCalls.MS_POSIXACL),
        ["async"] = (true, MountCalls.MS_SYNCHRONOUS),
        ["atime"] = (true, MountCalls.MS_NOATIME),
        ["bind"] = (false, MountCalls.MS_BIND),
        ["defaults"] = (false, 0),
        ["dev"] = (true, MountCalls.MS_NODEV),
        ["diratime"] = (true, MountCalls.MS_NODIRATIME),
        ["dirsync"] = (false, MountCalls.MS_DIRSYNC),
        ["exec"] = (true, MountCalls.MS_NOEXEC),
        ["iversion"] = (false, MountCalls.MS_I_VERSION),
        ["lazytime"] = (false, MountCalls.MS_LAZYTIME),
        ["loud"] = (true, MountCalls.MS_SILENT),
        ["mand"] = (false, MountCalls.MS_MANDLOCK),
        ["noacl"] = (true, MountCalls.MS_POSIXACL),
        ["noatime"] = (false, MountCalls.MS_NOATIME),
        ["nodev"] = (false, MountCalls.MS_NODEV),
        ["nodiratime"] = (false, MountCalls.MS_NODIRATIME),
        ["noexec"] = (false, MountCalls.MS_NOEXEC),
        ["noiversion"] = (true, MountCalls.MS_I_VERSION),
        ["nolazytime"] = (true, MountCalls.MS_LAZYTIME),
        ["nomand"] = (true, MountCalls.MS_MANDLOCK),
        ["norelatime"] = (true, MountCalls.MS_RELATIME),
        ["nostrictatime"] = (true, MountCalls.MS_STRICTATIME),
        ["nosuid"] = (false, MountCalls.MS_NOSUID),
        ["nosymfollow"] = (false, MountCalls.MS_NOSYMFOLLOW),
        ["rbind"] = (false, MountCalls.MS_BIND | MountCalls.MS_REC),
        ["relatime"] = (false, MountCalls.MS_RELATIME),
        ["remount"] = (false, MountCalls.MS_REMOUNT),
        ["ro"] = (false, MountCalls.MS_RDONLY),
        ["rw"] = (true, MountCalls.MS_RDONLY),
        ["silent"] = (false, MountCalls.MS_SILENT),
        ["strictatime"] = (false, MountCalls.MS_STRICTATIME),
        ["suid"] = (true, MountCalls.MS_NOSUID),
        ["symfollow"] = (true, MountCalls.MS_NOSYMFOLLOW),
        ["sync"] = (false, MountCalls.MS_SYNCHRONOUS),
    };

    private static readonly Dictionary<string, ulong> s_propagation = new(StringComparer.Ordinal)
    {
        ["private"] = MountCalls.MS_PRIVATE,
        ["rprivate"] = MountCalls.MS_PRIVATE | MountCalls.MS_REC,
        ["shared"] = MountCalls.MS_SHARED,
        ["rshared"] = MountCalls.MS_SHARED | MountCalls.MS_REC,
        ["slave"] = MountCalls.MS_SLAVE,
        ["rslave"] = MountCalls.MS_SLAVE | MountCalls.MS_REC,
        ["unbindable"] = MountCalls.MS_UNBINDABLE,
        ["runbindable"] = MountCalls.MS_UNBINDABLE | MountCalls.MS_REC,
    };

    /// <summary>True for a bind mount (bind or rbind).</summary>
    public bool IsBind => (Flags & MountCalls.MS_BIND) != 0;

    /// <summary>Splits <paramref name="options"/>; later options win, as with mount(8).</summary>
    public static MountOptions Parse(IReadOnlyList<string>? options)
    {
        ulong flags = 0;
        ulong propagation = 0;
        ulong recursiveSet = 0;
        ulong recursiveClear = 0;
        bool copyUp = false;
        var data = new List<string>();
        foreach (string option in options ?? [])
        {
            if (option.Length > 4096)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, "mount option: longer than 4096 characters");
            }
            if (s_flags.TryGetValue(option, out var f))
            {
                flags = f.Clear ? flags & ~f.Flag : flags | f.Flag;
            }
            else if (s_propagation.TryGetValue(option, out ulong p))
            {
                propagation |= p;
            }
            else if (s_recursive.TryGetValue(option, out var r))
            {
                // Later options win: an atime mode replaces the previous one, a clear undoes a set.
                if ((r.Clear & MountCalls.MOUNT_ATTR__ATIME) != 0)
                {
                    recursiveSet &= ~MountCalls.MOUNT_ATTR__ATIME;
                }
                recursiveSet = (recursiveSet & ~r.Clear) | r.Set;
                recursiveClear = (recursiveClear & ~r.Set) | r.Clear;
            }
            else if (option == "tmpcopyup")
            {
                copyUp = true;
            }
            else if (option.Length > 0)
            {
                data.Add(option);
            }
        }
        return new MountOptions(flags, propagation, string.Join(',', data)) { RecursiveSet = recursiveSet, RecursiveClear = recursiveClear, CopyUp = copyUp };
    }

    /// <summary>
    /// runc's rootfsPropagation (libcontainer/rootfs_linux.go), as two mount calls: <c>Before</c>
    /// on the guest's "/" before the rootfs is bound (default rslave, so nothing the container
    /// mounts reaches the guest), <c>After</c> on the container's "/" once the root is switched
    /// (0: none). The new "/" is a bind of the rootfs, which is already private or slave; a bind
    /// is never unbindable, and runc makes it shared only here, so shared and unbindable are
    /// applied once more after the switch. Before it, unbindable becomes private: the share the
    /// rootfs and every bind source come from must stay bindable (binding an unbindable mount
    /// fails with EINVAL), and an unbindable mount propagates nothing, as a private one (runc
    /// makes the rootfs's parent private for the same reason).
    /// </summary>
    public static (ulong Before, ulong After) RootPropagation(string? name)
    {
        ulong flags = name switch
        {
            null or "" => MountCalls.MS_SLAVE | MountCalls.MS_REC,
            _ when s_propagation.TryGetValue(name, out ulong p) => p,
            _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.rootfsPropagation {name}: unknown propagation"),
        };
        ulong before = (flags & MountCalls.MS_UNBINDABLE) != 0 ? (flags & ~MountCalls.MS_UNBINDABLE) | MountCalls.MS_PRIVATE : flags;
        ulong after = (flags & (MountCalls.MS_PRIVATE | MountCalls.MS_SLAVE)) == 0 ? flags : 0;
        return (before, after);
    }
}
