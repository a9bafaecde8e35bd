using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using MountCalls = VmSandbox.Interop.Mount;
using OciMount = VmSandbox.Oci.Spec.Mount;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// Builds the container's mount namespace in the container-init process, in runc's order
/// (libcontainer/rootfs_linux.go): "/" made slave, the rootfs bound onto itself, the OCI mounts
/// in order, /dev, the root switch, a shared or unbindable rootfsPropagation on the new "/",
/// masked and read-only paths, a read-only root.
/// Runs on the init's main thread, which has unshared its fs struct and mount namespace.
/// </summary>
public sealed class RootfsSetup
{
    // What a bind remount sets per mount (mount(2): the rest are per superblock or ignored).
    private const ulong PerMountFlags = MountCalls.MS_RDONLY | MountCalls.MS_NOSUID | MountCalls.MS_NODEV | MountCalls.MS_NOEXEC
        | MountCalls.MS_NOATIME | MountCalls.MS_NODIRATIME | MountCalls.MS_RELATIME | MountCalls.MS_STRICTATIME | MountCalls.MS_NOSYMFOLLOW;

    private readonly RuntimeSpec _spec;
    private readonly string _rootfs;
    private readonly Dictionary<string, InitMessage.BindSource> _binds;

    // In a user namespace of its own (ADR 0019) the init may not mknod, nor mount a sysfs of the
    // guest's network namespace: runc's ways round both (bind the node, rbind /sys).
    private readonly bool _inUserNamespace;

    // The init's cgroup as the guest names it (read before the cgroup namespace), for runc's
    // emulated cgroup namespace in a user namespace.
    private string _cgroupPath = "/";

    // tmpfs mounts and /dev asked for "ro": mounted writable, made read-only once the mounts,
    // directories and device nodes beneath them exist (runc's finalizeRootfs).
    private readonly List<(string Target, ulong Flags)> _readonlyLater = [];

    public RootfsSetup(RuntimeSpec spec, string rootfs, IReadOnlyList<InitMessage.BindSource>? binds)
    {
        _spec = spec;
        _rootfs = rootfs.TrimEnd('/');
        _binds = (binds ?? []).ToDictionary(b => Normalize(b.Destination), StringComparer.Ordinal);
        _inUserNamespace = spec.Linux?.Namespaces?.Any(n => n.Type == "user") == true;
    }

    /// <summary>In a user namespace: the init's cgroup in the guest's hierarchy, bound at the container's cgroup mount when cgroup2 cannot be mounted.</summary>
    public RootfsSetup WithCgroupPath(string path)
    {
        _cgroupPath = path;
        return this;
    }

    public void Run()
    {
        (ulong rootBefore, ulong rootAfter) = MountOptions.RootPropagation(_spec.Linux?.RootfsPropagation);
        MountCalls.Do("", "/", "", rootBefore);
        MountCalls.Do(_rootfs, _rootfs, "bind", MountCalls.MS_BIND | MountCalls.MS_REC);
        bool devMounted = false;
        foreach (OciMount m in _spec.Mounts ?? [])
        {
            MountOne(m);
            devMounted |= Normalize(m.Destination) == "/dev";
        }
        if (!devMounted)
        {
            string dev = InRoot("/dev");
            Directory.CreateDirectory(dev);
            MountCalls.Do("tmpfs", dev, "tmpfs", MountCalls.MS_NOSUID | MountCalls.MS_STRICTATIME, "mode=755,size=65536k");
            Directory.CreateDirectory(InRoot("/dev/pts"));
            MountCalls.Do("devpts", InRoot("/dev/pts"), "devpts", MountCalls.MS_NOSUID | MountCalls.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
            Directory.CreateDirectory(InRoot("/dev/shm"));
            MountCalls.Do("shm", InRoot("/dev/shm"), "tmpfs", MountCalls.MS_NOSUID | MountCalls.MS_NODEV | MountCalls.MS_NOEXEC, "mode=1777,size=65536k");
        }
        if (!_binds.ContainsKey("/dev"))
        {
            DeviceSetup.Create(InRoot("/dev"), _spec.Linux?.Devices, bindFromGuest: _inUserNamespace);
        }
        foreach (var (target, flags) in Enumerable.Reverse(_readonlyLater))
        {
            // A bind remount sets the per-mount flags as given: repeat nosuid, noexec… with ro.
            MountCalls.Do("", target, "", MountCalls.MS_REMOUNT | MountCalls.MS_BIND | (flags & PerMountFlags));
        }
        SwitchRoot();
        if (rootAfter != 0)
        {
            // runc compat: shared and unbindable are set on the container's own "/" (see RootPropagation).
            MountCalls.Do("", "/", "", rootAfter);
        }
        // runc compat: the init's cwd is made if missing, as root and before the rootfs may turn
        // read-only (in the new root, so ".." cannot leave it).
        if (_spec.Process?.Cwd is { Length: > 0 } cwd)
        {
            try
            {
                Directory.CreateDirectory(cwd, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"mkdir {cwd}: {e.Message}");
            }
        }
        foreach (string path in _spec.Linux?.MaskedPaths ?? [])
        {
            Mask(path);
        }
        foreach (string path in _spec.Linux?.ReadonlyPaths ?? [])
        {
            MakeReadonly(path);
        }
        if (_spec.Root?.Readonly == true)
        {
            MountCalls.Do("", "/", "", MountCalls.MS_BIND | MountCalls.MS_REMOUNT | MountCalls.MS_RDONLY);
        }
    }

    private void MountOne(OciMount m)
    {
        string destination = Normalize(m.Destination);
        string target = InRoot(destination);
        MountOptions options = MountOptions.Parse(m.Options);
        string type = m.Type ?? (options.IsBind ? "bind" : "");
        if (options.IsBind || type == "bind")
        {
            _binds.TryGetValue(destination, out InitMessage.BindSource? shared);
            string source = shared?.Source ?? m.Source ?? "";
            bool isDir = Directory.Exists(source);
            if (!isDir && !File.Exists(source))
            {
                throw new VmSandboxException(ErrorCode.NotFound, $"mount {m.Source} on {destination}: source {source}: no such file or directory");
            }
            CreateMountPoint(target, isDir);
            ulong bindFlags = MountCalls.MS_BIND | (options.Flags & MountCalls.MS_REC);
            if ((bindFlags & MountCalls.MS_REC) != 0)
            {
                MountSubmounts(source, shared?.Submounts);
            }
            MountCalls.Do(source, target, "bind", bindFlags);
            ulong rest = options.Flags & ~(MountCalls.MS_BIND | MountCalls.MS_REC | MountCalls.MS_REMOUNT);
            if (rest != 0)
            {
                // runc compat: bind mounts ignore flags until a remount applies them.
                MountCalls.Do("", target, "", MountCalls.MS_BIND | MountCalls.MS_REMOUNT | rest);
            }
        }
        else
        {
            if (type is "proc" or "sysfs")
            {
                RefuseNonDirectory(destination, type);
            }
            CreateMountPoint(target, isDirectory: true);
            if (type is "cgroup" or "cgroup2")
            {
                if (_inUserNamespace)
                {
                    MountCgroupInUserNamespace(target, options.Flags & ~MountCalls.MS_REMOUNT);
                }
                else
                {
                    MountCalls.Do("cgroup2", target, "cgroup2", options.Flags & ~MountCalls.MS_REMOUNT);
                }
            }
            else
            {
                string source = string.IsNullOrEmpty(m.Source) ? type : m.Source;
                ulong flags = options.Flags & ~MountCalls.MS_REMOUNT;
                if ((flags & MountCalls.MS_RDONLY) != 0 && (type == "tmpfs" || destination == "/dev"))
                {
                    _readonlyLater.Add((target, flags));
                    flags &= ~MountCalls.MS_RDONLY;
                }
                if (type == "sysfs" && _inUserNamespace)
                {
                    MountSysfsInUserNamespace(source, target, flags, options.Data.Length > 0 ? options.Data : null);
                }
                else if (options.CopyUp && type == "tmpfs")
                {
                    TmpfsCopyUp.Mount(source, target, flags, options.Data.Length > 0 ? options.Data : null);
                }
                else
                {
                    MountCalls.Do(source, target, type, flags, options.Data.Length > 0 ? options.Data : null);
                }
            }
        }
        if (options.HasRecursive)
        {
            MountCalls.SetAttributesRecursively(target, options.RecursiveSet, options.RecursiveClear);
        }
        foreach (ulong flag in SplitPropagation(options.PropagationFlags))
        {
            MountCalls.Do("", target, "", flag);
        }
    }

    /// <summary>
    /// runc compat: a sysfs belongs to a network namespace, and the container shares the guest's,
    /// which its user namespace does not own (EPERM): /sys is bound instead, with the mount's flags.
    /// </summary>
    private static void MountSysfsInUserNamespace(string source, string target, ulong flags, string? data)
    {
        try
        {
            MountCalls.Do(source, target, "sysfs", flags, data);
        }
        catch (VmSandboxException e) when (e.Errno is Errno.EPERM or 16)
        {
            MountCalls.Do("/sys", target, "bind", MountCalls.MS_BIND | MountCalls.MS_REC);
            MountCalls.Do("", target, "", MountCalls.MS_BIND | MountCalls.MS_REMOUNT | (flags & PerMountFlags));
        }
    }

    /// <summary>
    /// runc compat: the guest's cgroup2 superblock belongs to the initial user namespace, so a
    /// mount of it from the container's fails (EBUSY, or EPERM); runc then emulates the cgroup
    /// namespace by binding the container's own cgroup directory, with the mount's flags.
    /// </summary>
    private void MountCgroupInUserNamespace(string target, ulong flags)
    {
        try
        {
            MountCalls.Do("cgroup2", target, "cgroup2", flags);
        }
        catch (VmSandboxException e) when (e.Errno is Errno.EPERM or 16)
        {
            MountCalls.Do("/sys/fs/cgroup" + Normalize(_cgroupPath), target, "bind", MountCalls.MS_BIND | MountCalls.MS_REC);
            MountCalls.Do("", target, "", MountCalls.MS_BIND | MountCalls.MS_REMOUNT | (flags & PerMountFlags));
        }
    }

    /// <summary>
    /// runc compat: proc and sysfs go only on a real directory (or where nothing is yet), never
    /// through an image's symlink or onto a file ("filesystem \"proc\" must be mounted on
    /// ordinary directory"). The path is joined lexically here, not resolved, so the last
    /// component itself is what is checked.
    /// </summary>
    private void RefuseNonDirectory(string destination, string type)
    {
        var entry = new FileInfo(_rootfs + destination);
        // FileInfo.Exists is false for a directory: a link or a file is what is refused.
        if (entry.LinkTarget is not null || entry.Exists)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"filesystem \"{type}\" must be mounted on ordinary directory");
        }
    }

    /// <summary>
    /// The host's mounts below an rbind source are virtio-fs submounts here, which the kernel
    /// mounts on first access with the flags of the mount they are reached through. Opening each
    /// one through the writable share mounts it now, so the rbind copies it with its own flags
    /// and a later "ro" on the bind stays on the top mount, as with runc. Parents come first;
    /// one that is gone (or is a file) is left to the rbind.
    /// </summary>
    private static void MountSubmounts(string source, IReadOnlyList<string>? submounts)
    {
        foreach (string relative in submounts ?? [])
        {
            if (relative.Length == 0 || relative.StartsWith('/') || relative.Split('/').Contains(".."))
            {
                continue;
            }
            try
            {
                using SafeFd _ = FileSystemCalls.Open(Path.Combine(source, relative), FileSystemCalls.O_RDONLY | FileSystemCalls.O_DIRECTORY | FileSystemCalls.O_CLOEXEC);
            }
            catch (VmSandboxException)
            {
                // gone, or not a directory: the rbind copies what there is
            }
        }
    }

    private static IEnumerable<ulong> SplitPropagation(ulong flags)
    {
        ulong rec = flags & MountCalls.MS_REC;
        foreach (ulong f in (ulong[])[MountCalls.MS_SHARED, MountCalls.MS_SLAVE, MountCalls.MS_PRIVATE, MountCalls.MS_UNBINDABLE])
        {
            if ((flags & f) != 0)
            {
                yield return f | rec;
            }
        }
    }

    private static void CreateMountPoint(string target, bool isDirectory)
    {
        if (isDirectory)
        {
            Directory.CreateDirectory(target);
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (!File.Exists(target) && !Directory.Exists(target))
        {
            using (File.Create(target))
            {
            }
        }
    }

    /// <summary>pivot_root when the guest root is a real mount; under the initramfs (rootfs cannot be pivoted) runc's no-pivot path: hide the guest's mounts, move the rootfs onto "/", chroot.</summary>
    private void SwitchRoot()
    {
        FileSystemCalls.ChangeDirectory(_rootfs);
        if (MountCalls.TryPivotRoot(".", ".") == 0)
        {
            MountCalls.Do("", ".", "", MountCalls.MS_SLAVE | MountCalls.MS_REC);
            MountCalls.Unmount(".", MountCalls.MNT_DETACH);
            FileSystemCalls.ChangeDirectory("/");
            return;
        }
        foreach (string mountPoint in Enumerable.Reverse(GuestMountPoints()))
        {
            if (mountPoint == "/" || mountPoint == _rootfs || mountPoint.StartsWith(_rootfs + "/", StringComparison.Ordinal)
                || _rootfs.StartsWith(mountPoint + "/", StringComparison.Ordinal))
            {
                continue;
            }
            _ = MountCalls.TryUnmount(mountPoint, MountCalls.MNT_DETACH);
        }
        MountCalls.Do(_rootfs, "/", "", MountCalls.MS_MOVE);
        MountCalls.ChangeRoot(".");
        FileSystemCalls.ChangeDirectory("/");
    }

    private static List<string> GuestMountPoints()
    {
        var points = new List<string>();
        foreach (string line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            string[] fields = line.Split(' ');
            if (fields.Length > 4)
            {
                points.Add(MountInfo.Unescape(fields[4]));
            }
        }
        return points;
    }

    private static void Mask(string path)
    {
        if (Directory.Exists(path))
        {
            MountCalls.Do("tmpfs", path, "tmpfs", MountCalls.MS_RDONLY);
        }
        else if (File.Exists(path))
        {
            MountCalls.Do("/dev/null", path, "bind", MountCalls.MS_BIND);
        }
    }

    private static void MakeReadonly(string path)
    {
        if (!Directory.Exists(path) && !File.Exists(path))
        {
            return;
        }
        MountCalls.Do(path, path, "bind", MountCalls.MS_BIND | MountCalls.MS_REC);
        MountCalls.Do("", path, "", MountCalls.MS_BIND | MountCalls.MS_REMOUNT | MountCalls.MS_RDONLY | MountCalls.MS_REC);
    }

    /// <summary>A destination inside the rootfs: neither ".." nor the image's symlinks lead out of it.</summary>
    private string InRoot(string destination) => SecureJoin.Resolve(_rootfs, destination).TrimEnd('/');

    /// <summary>An absolute, lexically clean container path ("/a/../b/" → "/b").</summary>
    public static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                continue;
            }
            parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }
}
