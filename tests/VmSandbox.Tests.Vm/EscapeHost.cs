using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// The host side of an escape test: two small tmpfs mounts (so that a container filling its disk
/// fills only them), one holding the bundle's rootfs, the other a volume's source, each with
/// canary files beside and above what the container is given; the escape probe
/// (tests/fixtures/escape-probe.c, built static) in the rootfs and on the host. The tmpfs mounts
/// use strictatime, so a canary read by anyone shows in its access time.
/// </summary>
internal sealed class EscapeHost : IAsyncDisposable
{
    public const int FsMiB = 32;
    public const int VolumeFsMiB = 8;

    private readonly Dictionary<string, string> _contents = new(StringComparer.Ordinal);
    private Dictionary<string, FileStamp> _before = [];

    private EscapeHost(string dir)
    {
        Dir = dir;
    }

    /// <summary>Short: the state root's sockets are elsewhere, but paths show in rows.</summary>
    public string Dir { get; }

    /// <summary>The tmpfs holding the bundle: canary/secret and secret-parent beside and above bundle/rootfs.</summary>
    public string Fs => Path.Combine(Dir, "fs");

    /// <summary>The tmpfs holding the volume's source: canary/secret beside vol/.</summary>
    public string VolumeFs => Path.Combine(Dir, "v");

    public string Bundle => Path.Combine(Fs, "bundle");

    public string Rootfs => Path.Combine(Bundle, "rootfs");

    public string Volume => Path.Combine(VolumeFs, "vol");

    /// <summary>The probe built for the host (the host's side of the swap race).</summary>
    public string HostProbe => Path.Combine(Dir, "escape-probe");

    /// <summary>Text in every canary file; it must never show in anything the container prints.</summary>
    public string Secret { get; } = "CANARY-" + Guid.NewGuid().ToString("N");

    public IEnumerable<string> CanaryFiles => _contents.Keys;

    public static async Task<EscapeHost> CreateAsync()
    {
        var host = new EscapeHost(Directory.CreateTempSubdirectory("vmsb-esc-").FullName);
        try
        {
            await host.SetUpAsync();
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        return host;
    }

    private async Task SetUpAsync()
    {
        await MountTmpfs(Fs, FsMiB);
        await MountTmpfs(VolumeFs, VolumeFsMiB);
        await Must(Path.Combine(TestEnvironment.RepoRoot, "tests", "fixtures", "make-rootfs.sh"), Rootfs);
        // setup.sh installs build-essential (the guest kernel's build needs it): gcc and a static libc.
        await BuildProbe(HostProbe);
        File.Copy(HostProbe, Path.Combine(Rootfs, "escape-probe"));
        Directory.CreateDirectory(Volume);
        File.WriteAllText(Path.Combine(Volume, "file"), "volume\n");
        Canary(Path.Combine(Fs, "canary", "secret"));
        Canary(Path.Combine(Fs, "secret-parent"));
        Canary(Path.Combine(VolumeFs, "canary", "secret"));
        Canary(Path.Combine(Dir, "secret-top"));
        // Links the host put in the image and the volume, aimed at the canaries as the host resolves them.
        File.CreateSymbolicLink(Path.Combine(Rootfs, "hostlink-abs"), Path.Combine(Fs, "canary", "secret"));
        File.CreateSymbolicLink(Path.Combine(Rootfs, "hostlink-rel"), "../../canary/secret");
        File.CreateSymbolicLink(Path.Combine(Volume, "hostlink-rel"), "../canary/secret");
        // The host's side of the swap race: d (the container's) and l (a link to a canary's directory).
        string swap = Directory.CreateDirectory(Path.Combine(Rootfs, "hswap", "d")).FullName;
        File.WriteAllText(Path.Combine(swap, "secret"), "container\n");
        File.CreateSymbolicLink(Path.Combine(Rootfs, "hswap", "l"), Path.Combine(Fs, "canary"));
    }

    /// <summary>Writes the bundle's config.json and takes the host's picture that <see cref="Changes"/> compares with.</summary>
    public string WriteBundle(string configJson)
    {
        File.WriteAllText(Path.Combine(Bundle, "config.json"), configJson);
        _before = Snapshot();
        return Bundle;
    }

    private void Canary(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string content = Secret + " " + path + "\n";
        File.WriteAllText(path, content);
        _contents[path] = content;
    }

    /// <summary>
    /// Every host file here outside the rootfs and the volume, plus the host's /etc/shadow: kind,
    /// size and write time, and for the canaries the access time; no read. (Directories' access
    /// times move with our own listing, the host probe's with our own swap runs.)
    /// </summary>
    private Dictionary<string, FileStamp> Snapshot()
    {
        var stamps = new Dictionary<string, FileStamp>(StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFileSystemEntries(Dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            if (path == Rootfs || path == Volume || path.StartsWith(Rootfs + "/", StringComparison.Ordinal) || path.StartsWith(Volume + "/", StringComparison.Ordinal))
            {
                continue;
            }
            stamps[path] = FileStamp.Of(path, _contents.ContainsKey(path));
        }
        if (File.Exists("/etc/shadow"))
        {
            stamps["/etc/shadow"] = FileStamp.Of("/etc/shadow", withAccess: false);
        }
        return stamps;
    }

    /// <summary>
    /// What changed on the host outside the rootfs and the volume since set-up: files added,
    /// removed, written or read (access times first, then the canaries' contents). Empty when nothing.
    /// </summary>
    public List<string> Changes()
    {
        Dictionary<string, FileStamp> after = Snapshot();
        var changes = new List<string>();
        foreach (var (path, stamp) in _before)
        {
            if (!after.TryGetValue(path, out FileStamp? now))
            {
                changes.Add($"{path} removed");
            }
            else if (now != stamp)
            {
                changes.Add($"{path} changed: {stamp} -> {now}");
            }
        }
        changes.AddRange(after.Keys.Where(p => !_before.ContainsKey(p)).Select(p => $"{p} added"));
        // Reads last: they move the access times that were just compared.
        foreach (var (path, content) in _contents)
        {
            if (File.Exists(path) && File.ReadAllText(path) != content)
            {
                changes.Add($"{path}: content changed");
            }
        }
        return changes;
    }

    /// <summary>Bytes used on the two tmpfs mounts (what a container filling its disk can take).</summary>
    public static long UsedBytes(string mountPoint)
    {
        var drive = new DriveInfo(mountPoint);
        return drive.TotalSize - drive.AvailableFreeSpace;
    }

    private static async Task MountTmpfs(string dir, int mib)
    {
        Directory.CreateDirectory(dir);
        await Must("mount", "-t", "tmpfs", "-o", $"size={mib}m,mode=0755,strictatime", "vmsb-escape", dir);
    }

    /// <summary>
    /// Builds tests/fixtures/escape-probe.c, static, at PATH (for tests that bind it into a
    /// container). Static PIE, so that its text is not at busybox's addresses: under TCG a static
    /// non-PIE probe run right after busybox sometimes ran busybox's code and died (ADR 0002's
    /// open TCG fault); what the rows test is the escape, not that fault.
    /// </summary>
    public static Task BuildProbe(string path) =>
        Must("cc", "-static-pie", "-O2", "-o", path, Path.Combine(TestEnvironment.RepoRoot, "tests", "fixtures", "escape-probe.c"));

    private static async Task Must(string file, params string[] args)
    {
        var r = await TestEnvironment.RunAsync(file, new Dictionary<string, string>(), TimeSpan.FromMinutes(2), args);
        Assert.True(r.ExitCode == 0, $"{file} {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (string mountPoint in new[] { VolumeFs, Fs })
        {
            if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + mountPoint + " ", StringComparison.Ordinal))
            {
                var r = await TestEnvironment.RunAsync("umount", new Dictionary<string, string>(), TimeSpan.FromSeconds(30), mountPoint);
                if (r.ExitCode != 0)
                {
                    // Still held (a sandbox that did not go): detach it so that nothing shows on the host.
                    await TestEnvironment.RunAsync("umount", new Dictionary<string, string>(), TimeSpan.FromSeconds(30), "-l", mountPoint);
                }
            }
        }
        Directory.Delete(Dir, recursive: true);
    }

    private sealed record FileStamp(long Size, DateTime Written, DateTime? Accessed, string Kind)
    {
        public static FileStamp Of(string path, bool withAccess)
        {
            var info = new FileInfo(path);
            bool dir = info.Attributes.HasFlag(FileAttributes.Directory);
            string kind = info.LinkTarget is { } target ? "link to " + target : dir ? "dir" : "file";
            return new FileStamp(dir ? 0 : info.Length, info.LastWriteTimeUtc, withAccess ? info.LastAccessTimeUtc : null, kind);
        }

        public override string ToString() =>
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Kind} {Size} bytes, written {Written:HH:mm:ss.fffffff}, read {Accessed:HH:mm:ss.fffffff}");
    }
}
