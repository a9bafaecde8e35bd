using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// What a container's VM looks like, derived from its bundle: the virtio-fs share (rootfs plus
/// every host bind-mount source), the guest paths the agent finds them at, and the VM size from
/// <c>linux.resources</c>. Pure: no I/O but <see cref="Path"/> arithmetic and existence checks.
/// </summary>
public sealed record SandboxPlan
{
    /// <summary>The one virtio-fs tag of a sandbox.</summary>
    public const string ShareTag = "vmsandbox";

    /// <summary>Guest memory the agent, kernel and page cache need besides the container's limit.</summary>
    public const int MemoryOverheadMiB = 160;

    public required SharedDir Share { get; init; }
    public required RootfsMount Rootfs { get; init; }
    public required IReadOnlyList<SharedMount> SharedMounts { get; init; }
    public required int MemoryMiB { get; init; }
    public required int Vcpus { get; init; }

    /// <param name="mountinfo">the host's /proc/self/mountinfo lines, for the mounts below an rbind source (none: not looked for)</param>
    /// <param name="prefix">Where in the share this container's files go: "" for the VM's own container, "c/KEY/" for a pod member's.</param>
    /// <param name="isFile">
    /// Given with <paramref name="mountinfo"/> for the VM's own container (true for a file source
    /// reached through no symlink, <see cref="FileBindLayout.IsFileWithoutSymlinks"/>): those go at
    /// their host path (<see cref="FileBindLayout"/>), so mountinfo shows runc's root for them.
    /// Pod members (and pooled VMs' containers) share the share with others: they keep <c>m/N</c>.
    /// </param>
    /// <param name="podCgroup">For a pod's sandbox: the pod's limits from its host cgroup (<see cref="PodResources"/>).</param>
    public static SandboxPlan Create(LoadedSpec loaded, RuntimeConfig config, string shareDir, Func<string, bool> exists, IEnumerable<string>? mountinfo = null, string prefix = "", Func<string, bool>? isFile = null, Func<LinuxResources?>? podCgroup = null)
    {
        // Read only when an rbind or a file source needs it: most containers have neither.
        var hostMountInfo = new Lazy<List<string>>(() => mountinfo is null ? [] : [.. mountinfo]);
        var hostMounts = new Lazy<List<string>>(() => MountPoints(hostMountInfo.Value));
        RuntimeSpec spec = loaded.Spec;
        var binds = new List<ShareBind> { new(loaded.RootfsPath, prefix + "rootfs") };
        var mounts = new List<SharedMount>();
        var bySource = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Mount m in spec.Mounts ?? [])
        {
            if (!IsBind(m) || m.Source is null)
            {
                continue;
            }
            string source = Path.IsPathRooted(m.Source) ? m.Source : Path.GetFullPath(Path.Combine(loaded.BundlePath, m.Source));
            if (!exists(source))
            {
                // runc compat: the mount fails at create with the source's name.
                throw new Common.VmSandboxException(Common.ErrorCode.NotFound,
                    $"mount {source} to {m.Destination}: stat {source}: no such file or directory");
            }
            if (!bySource.TryGetValue(source, out string? target))
            {
                if (prefix.Length == 0 && mountinfo is not null && isFile?.Invoke(source) == true)
                {
                    target = FileBindLayout.Target(FileBindLayout.HostRoot(source, hostMountInfo.Value), binds.Select(b => b.Target));
                }
                target ??= $"{prefix}m/{bySource.Count}";
                bySource[source] = target;
                binds.Add(new ShareBind(source, target));
            }
            var shared = new SharedMount { Destination = m.Destination, ShareTag = ShareTag, Path = target };
            shared.Options.AddRange(m.Options ?? []);
            if (m.Options?.Contains("rbind") == true)
            {
                shared.Submounts.AddRange(Below(source, hostMounts.Value));
            }
            mounts.Add(shared);
        }
        (int memory, int vcpus) = Size(PodResources(spec, podCgroup) ?? spec.Linux?.Resources, config);
        return new SandboxPlan
        {
            Share = new SharedDir(ShareTag, shareDir) { Binds = binds },
            Rootfs = new RootfsMount { ShareTag = ShareTag, Path = prefix + "rootfs", FsType = "virtiofs", Readonly = spec.Root?.Readonly ?? false },
            SharedMounts = mounts,
            MemoryMiB = memory,
            Vcpus = vcpus,
        };
    }

    /// <summary>Where pod member <paramref name="id"/>'s files go in its pod's share.</summary>
    public static string MemberPrefix(string id) =>
        "c/" + Sha256.HexPrefix(id, 16) + "/";

    /// <summary>Mount points of a mountinfo (field 5, octal escapes such as \040 decoded), in mount order.</summary>
    public static List<string> MountPoints(IEnumerable<string> mountinfo) =>
        [.. mountinfo.Select(line => line.Split(' ')).Where(f => f.Length > 4).Select(f => Common.MountInfo.Unescape(f[4]))];

    /// <summary>
    /// The mount points strictly below <paramref name="source"/>, relative to it, each once, parents
    /// first: virtio-fs shows them to the guest as submounts, which the guest kernel mounts on first
    /// access with the flags of the mount it is reached through; the guest mounts them through
    /// the writable share before an rbind copies the tree, so `rbind,ro` leaves them writable as
    /// runc does.
    /// </summary>
    public static IReadOnlyList<string> Below(string source, IReadOnlyList<string> mountPoints)
    {
        string prefix = source.TrimEnd('/') + "/";
        return mountPoints
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && p.Length > prefix.Length)
            .Select(p => p[prefix.Length..].TrimEnd('/'))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(p => p.Count(c => c == '/'))
            .ToList();
    }

    public static bool IsBind(Mount m) =>
        m.Type == "bind" || (m.Options?.Any(o => o is "bind" or "rbind") ?? false);

    /// <summary>
    /// A pod sandbox's VM holds the whole pod: containerd 1.7+ names the pod's limits in the
    /// sandbox's annotations (sandbox-memory in bytes, sandbox-cpu-quota/-period), and those size
    /// the VM. containerd 1.6 sends none: then the pod's cgroup, where the kubelet wrote the same
    /// totals (<paramref name="podCgroup"/>, <see cref="PodCgroupLimits"/>); neither: null, and the
    /// sandbox's own resources (the default size) apply.
    /// </summary>
    public static LinuxResources? PodResources(RuntimeSpec spec, Func<LinuxResources?>? podCgroup = null)
    {
        if (spec.Annotations is not { } a || a.GetValueOrDefault("io.kubernetes.cri.container-type") != "sandbox")
        {
            return null;
        }
        return Annotated(a) ?? podCgroup?.Invoke();
    }

    private static LinuxResources? Annotated(IReadOnlyDictionary<string, string> a)
    {
        long? memory = long.TryParse(a.GetValueOrDefault("io.kubernetes.cri.sandbox-memory"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long m) && m > 0 ? m : null;
        long? quota = long.TryParse(a.GetValueOrDefault("io.kubernetes.cri.sandbox-cpu-quota"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long q) && q > 0 ? q : null;
        ulong? period = ulong.TryParse(a.GetValueOrDefault("io.kubernetes.cri.sandbox-cpu-period"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong p) && p > 0 ? p : null;
        if (memory is null && (quota is null || period is null))
        {
            return null;
        }
        return new LinuxResources
        {
            Memory = memory is null ? null : new LinuxResources.MemoryLimits { Limit = memory },
            Cpu = quota is null || period is null ? null : new LinuxResources.CpuLimits { Quota = quota, Period = period },
        };
    }

    /// <summary>
    /// The VM gets the container's memory limit plus <see cref="MemoryOverheadMiB"/> (never less
    /// than the configured size), and as many vCPUs as the CPU quota asks for (at least the
    /// configured count, at most the host's CPUs); a cpuset (<c>cpu.cpus</c>) caps the count at
    /// its number of CPUs, or gives that many when there is no quota: the host cgroup pins the
    /// vCPUs to those CPUs, so more vCPUs than CPUs would only contend.
    /// </summary>
    public static (int MemoryMiB, int Vcpus) Size(LinuxResources? resources, RuntimeConfig config)
    {
        int memory = config.MemoryMiB;
        if (resources?.Memory?.Limit is long limit && limit > 0)
        {
            long wanted = (limit + (1 << 20) - 1) / (1 << 20) + MemoryOverheadMiB;
            memory = (int)Math.Clamp(wanted, config.MemoryMiB, 64 * 1024);
        }
        int vcpus = config.Vcpus;
        int? pinned = CountCpus(resources?.Cpu?.Cpus);
        if (resources?.Cpu is { Quota: long quota, Period: ulong period } && quota > 0 && period > 0)
        {
            int wanted = (int)Math.Ceiling((double)quota / period);
            vcpus = Math.Clamp(wanted, config.Vcpus, Math.Max(config.Vcpus, Environment.ProcessorCount));
        }
        else if (pinned is int count)
        {
            vcpus = Math.Clamp(count, 1, Math.Max(config.Vcpus, Environment.ProcessorCount));
        }
        if (pinned is int cap && cap < vcpus)
        {
            vcpus = cap;
        }
        return (memory, vcpus);
    }

    /// <summary>The number of CPUs in a cpuset list such as "0-2,4" (4); null when absent or not a list (the host kernel refuses it then).</summary>
    public static int? CountCpus(string? list)
    {
        if (string.IsNullOrWhiteSpace(list))
        {
            return null;
        }
        var cpus = new HashSet<int>();
        foreach (string part in list.Trim().Split(','))
        {
            string[] range = part.Split('-');
            if (range.Length is < 1 or > 2
                || !int.TryParse(range[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int first)
                || !int.TryParse(range[^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int last)
                || last < first || last - first > 4096)
            {
                return null;
            }
            // long: with last = int.MaxValue an int counter wraps and the loop never ends (found by fuzzing).
            for (long cpu = first; cpu <= last; cpu++)
            {
                cpus.Add((int)cpu);
            }
        }
        return cpus.Count;
    }
}
