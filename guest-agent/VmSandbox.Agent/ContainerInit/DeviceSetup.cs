using VmSandbox.Interop;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>The device nodes and symlinks of a container's /dev (runc's createDevices, setupDevSymlinks, setupPtmx).</summary>
public static class DeviceSetup
{
    /// <summary>runc's AllowedDevices that every container gets: name, major, minor.</summary>
    public static readonly IReadOnlyList<(string Name, uint Major, uint Minor)> Defaults =
    [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ];

    public static readonly IReadOnlyList<(string Link, string Target)> Symlinks =
    [
        ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
    ];

    /// <summary>Creates the nodes in <paramref name="dev"/> (the container's /dev seen from outside its root).</summary>
    /// <param name="bindFromGuest">
    /// In a user namespace mknod is refused: as runc does there, each node is an empty file with
    /// the guest's node of the same path bound onto it (the guest's /dev stands for the host's).
    /// </param>
    public static void Create(string dev, IReadOnlyList<LinuxDevice>? devices, bool bindFromGuest = false)
    {
        uint old = FileSystemCalls.SetUmask(0);
        try
        {
            foreach (var (name, major, minor) in Defaults)
            {
                MakeNode(Path.Join(dev, name), FileSystemCalls.S_IFCHR | 0x1B6, major, minor, bindFromGuest ? "/dev/" + name : null);
            }
            foreach (LinuxDevice d in devices ?? [])
            {
                string normalized = RootfsSetup.Normalize(d.Path);
                if (!normalized.StartsWith("/dev/", StringComparison.Ordinal))
                {
                    continue;
                }
                string path = Path.Join(dev, normalized["/dev".Length..]);
                uint type = d.Type switch
                {
                    "b" => FileSystemCalls.S_IFBLK,
                    "p" => FileSystemCalls.S_IFIFO,
                    _ => FileSystemCalls.S_IFCHR,
                };
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                MakeNode(path, type | ((d.FileMode ?? 0x1B6) & 0xFFF), (uint)d.Major, (uint)d.Minor, bindFromGuest ? normalized : null);
            }
        }
        finally
        {
            _ = FileSystemCalls.SetUmask(old);
        }
        foreach (var (link, target) in Symlinks)
        {
            string path = Path.Join(dev, link);
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                File.CreateSymbolicLink(path, target);
            }
        }
        if (Directory.Exists(Path.Join(dev, "pts")))
        {
            string ptmx = Path.Join(dev, "ptmx");
            if (File.Exists(ptmx))
            {
                File.Delete(ptmx);
            }
            File.CreateSymbolicLink(ptmx, "pts/ptmx");
        }
    }

    // Device owners (uid/gid) are not applied yet: every node belongs to root.
    private static void MakeNode(string path, uint mode, uint major, uint minor, string? guestNode)
    {
        if (guestNode is not null)
        {
            if (!File.Exists(path))
            {
                using (File.Create(path))
                {
                }
            }
            Interop.Mount.Do(guestNode, path, "bind", Interop.Mount.MS_BIND);
            return;
        }
        if (!File.Exists(path))
        {
            FileSystemCalls.MakeNode(path, mode, FileSystemCalls.MakeDev(major, minor));
        }
    }
}
