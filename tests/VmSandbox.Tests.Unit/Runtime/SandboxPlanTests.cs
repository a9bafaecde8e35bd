using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// The sandbox's plan: the VM's size from linux.resources (memory plus overhead, vCPUs from the
/// quota and the cpuset), the host mounts below an rbind source, and where bind sources go in the
/// share (file sources at the path runc's mountinfo would show).
/// </summary>
public sealed class SandboxPlanTests
{
    private static readonly RuntimeConfig s_config = new() { MemoryMiB = 256, Vcpus = 1 };

    private static (int MemoryMiB, int Vcpus) Size(long? quota = null, string? cpus = null, long? memory = null) =>
        SandboxPlan.Size(new LinuxResources
        {
            Cpu = new LinuxResources.CpuLimits { Quota = quota, Period = quota is null ? null : 100_000, Cpus = cpus },
            Memory = memory is null ? null : new LinuxResources.MemoryLimits { Limit = memory },
        }, s_config);

    private static RuntimeSpec Sandbox(params (string Key, string Value)[] annotations) => new()
    {
        Annotations = annotations.Append(("io.kubernetes.cri.container-type", "sandbox")).ToDictionary(a => a.Item1, a => a.Item2),
    };

    [Fact]
    public void A_pod_sandboxs_vm_is_sized_from_the_pods_limits_when_containerd_names_them()
    {
        // containerd 1.7+ annotates the sandbox with the pod's totals; the VM holds the whole pod.
        LinuxResources pod = SandboxPlan.PodResources(Sandbox(("io.kubernetes.cri.sandbox-memory", "1073741824"),
            ("io.kubernetes.cri.sandbox-cpu-quota", "200000"), ("io.kubernetes.cri.sandbox-cpu-period", "100000")))!;
        Assert.Equal((1024 + SandboxPlan.MemoryOverheadMiB, 2), SandboxPlan.Size(pod, s_config));
        // containerd 1.6 names none, a container is no sandbox, garbage is ignored: the default.
        Assert.Null(SandboxPlan.PodResources(Sandbox()));
        Assert.Null(SandboxPlan.PodResources(new RuntimeSpec { Annotations = new Dictionary<string, string> { ["io.kubernetes.cri.sandbox-memory"] = "1073741824" } }));
        Assert.Null(SandboxPlan.PodResources(Sandbox(("io.kubernetes.cri.sandbox-memory", "-5"))));
    }

    [Theory]
    // cgroup v2: memory.max and cpu.max of the pod's cgroup (the parent of the sandbox's).
    [InlineData("v2", "805306368", "150000 100000", 768, 150000L)]
    [InlineData("v2", "max", "max 100000", null, null)]
    [InlineData("v2", "805306368", "max 100000", 768, null)]
    // cgroup v1: memory.limit_in_bytes ("no limit" is the page-counter maximum), cfs quota -1 = none.
    [InlineData("v1", "536870912", "200000", 512, 200000L)]
    [InlineData("v1", "9223372036854771712", "-1", null, null)]
    [InlineData("v1", "garbage", "0", null, null)]
    public void On_containerd_16_the_pod_sandboxs_vm_is_sized_from_the_pods_cgroup(string version, string memory, string cpu, int? memoryMiB, long? quota)
    {
        // The kubelet writes the pod's totals on the pod cgroup before RunPodSandbox; containerd
        // 1.6 annotates none, so the sandbox's VM reads them from its cgroup's parent.
        string root = version == "v2" ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        string pod = version == "v2" ? $"{root}/kubepods/podabc" : "/sys/fs/cgroup/memory/kubepods/podabc";
        string cpuPod = version == "v2" ? pod : "/sys/fs/cgroup/cpu/kubepods/podabc";
        var files = version == "v2"
            ? new Dictionary<string, string> { [$"{pod}/memory.max"] = memory + "\n", [$"{pod}/cpu.max"] = cpu + "\n" }
            : new Dictionary<string, string>
            {
                [$"{pod}/memory.limit_in_bytes"] = memory + "\n",
                [$"{cpuPod}/cpu.cfs_quota_us"] = cpu + "\n",
                [$"{cpuPod}/cpu.cfs_period_us"] = "100000\n",
            };
        string[] sandboxCgroups = version == "v2" ? [$"{pod}/sandboxid"] : [$"{pod}/sandboxid", $"{cpuPod}/sandboxid"];
        LinuxResources? read = PodCgroupLimits.Read(sandboxCgroups, f => files.GetValueOrDefault(f));
        Assert.Equal(memoryMiB is int mib ? mib * (1L << 20) : null, read?.Memory?.Limit);
        Assert.Equal(quota, read?.Cpu?.Quota);
        if (memoryMiB is int wanted)
        {
            LinuxResources? pod16 = SandboxPlan.PodResources(Sandbox(), () => read);
            Assert.Equal(wanted + SandboxPlan.MemoryOverheadMiB, SandboxPlan.Size(pod16, s_config).MemoryMiB);
        }
    }

    [Fact]
    public void The_pods_annotations_win_over_its_cgroup_and_a_plain_container_reads_neither()
    {
        var fromCgroup = new LinuxResources { Memory = new LinuxResources.MemoryLimits { Limit = 2L << 30 } };
        LinuxResources annotated = SandboxPlan.PodResources(Sandbox(("io.kubernetes.cri.sandbox-memory", "1073741824")), () => fromCgroup)!;
        Assert.Equal(1L << 30, annotated.Memory?.Limit);
        Assert.Null(SandboxPlan.PodResources(new RuntimeSpec(), () => throw new InvalidOperationException("a container's parent cgroup is not its pod's")));
    }

    [Fact]
    public void Without_limits_the_configured_size_is_used() =>
        Assert.Equal((256, 1), SandboxPlan.Size(null, s_config));

    [Fact]
    public void Memory_is_the_limit_plus_overhead_and_never_below_the_configured_size()
    {
        Assert.Equal(512 + SandboxPlan.MemoryOverheadMiB, Size(memory: 512L << 20).MemoryMiB);
        Assert.Equal(256, Size(memory: 1 << 20).MemoryMiB);
    }

    [Fact]
    public void A_cpuset_without_quota_gives_one_vcpu_per_cpu_up_to_the_hosts_count()
    {
        Assert.Equal(1, Size(cpus: "1").Vcpus);
        Assert.Equal(Math.Min(2, Environment.ProcessorCount), Size(cpus: "0-1").Vcpus);
    }

    [Fact]
    public void A_cpuset_caps_the_quotas_vcpus()
    {
        Assert.Equal(Math.Min(2, Environment.ProcessorCount), Size(quota: 200_000).Vcpus);
        Assert.Equal(1, Size(quota: 200_000, cpus: "1").Vcpus);
    }

    [Theory]
    [InlineData("0", 1)]
    [InlineData("0-2,4", 4)]
    [InlineData(" 1,1,1 ", 1)]
    [InlineData("3-5,0-1", 5)]
    [InlineData("", null)]
    [InlineData("a", null)]
    [InlineData("2-1", null)]
    [InlineData("0-", null)]
    [InlineData("-1", null)]
    [InlineData("0-100000", null)]
    public void Cpu_lists_are_counted(string list, int? count) =>
        Assert.Equal(count, SandboxPlan.CountCpus(list));

    [Fact]
    public void Host_mounts_below_an_rbind_source_are_listed_relative_parents_first()
    {
        List<string> points = SandboxPlan.MountPoints(
        [
            "22 1 0:20 / / rw - ext4 /dev/sda1 rw",
            "40 22 0:40 / /vol/a\\040b/deep/er rw - tmpfs tmpfs rw",
            "41 22 0:41 / /vol/a\\040b rw - tmpfs tmpfs rw",
            "42 22 0:42 / /vol rw - tmpfs tmpfs rw",
            "43 22 0:43 / /volume2 rw - tmpfs tmpfs rw",
            "44 22 0:44 / /vol/a\\040b rw - tmpfs tmpfs rw",
        ]);
        Assert.Contains("/vol/a b", points);
        Assert.Equal(["a b", "a b/deep/er"], SandboxPlan.Below("/vol", points));
        Assert.Equal(["a b", "a b/deep/er"], SandboxPlan.Below("/vol/", points));
        Assert.Equal(["deep/er"], SandboxPlan.Below("/vol/a b", points));
        Assert.Empty(SandboxPlan.Below("/volume2", points));
    }

    private static readonly string[] s_hostMounts =
    [
        "22 1 0:20 / / rw - ext4 /dev/sda1 rw",
        "30 22 0:30 / /var/lib/docker rw - xfs /dev/sdb1 rw",
        "31 22 0:31 /@home /home rw - btrfs /dev/sdc1 rw",
        "32 22 0:32 / /dev/shm rw - tmpfs tmpfs rw",
        "33 22 0:30 /volumes/v/_data /srv/a\\040b rw - xfs /dev/sdb1 rw",
        "34 32 0:34 / /dev/shm rw - tmpfs tmpfs rw",
    ];

    [Theory]
    [InlineData("/etc/hosts", "/etc/hosts")]
    [InlineData("/var/lib/docker/containers/abc/hostname", "/containers/abc/hostname")] // a file system of its own
    [InlineData("/var/lib/dockerx/f", "/var/lib/dockerx/f")] // a name that only starts like a mount point
    [InlineData("/home/u/f", "/@home/u/f")] // a mount whose root is a subvolume
    [InlineData("/srv/a b/f", "/volumes/v/_data/f")] // a bind on the host, escaped in mountinfo
    [InlineData("/dev/shm/f", "/f")] // the last mount on a point is the one seen
    [InlineData("/etc/../etc/hosts", null)]
    [InlineData("etc/hosts", null)]
    [InlineData("/etc//hosts", null)]
    public void A_file_sources_host_root_is_its_path_in_its_file_system(string source, string? root) =>
        Assert.Equal(root, FileBindLayout.HostRoot(source, s_hostMounts));

    [Theory]
    [InlineData("/etc/hosts", "etc/hosts")]
    [InlineData("/f", "f")]
    [InlineData(null, null)]
    [InlineData("/", null)]
    [InlineData("/rootfs/etc/hosts", null)] // the share's own names
    [InlineData("/m/0", null)]
    [InlineData("/c/x/f", null)]
    [InlineData("/taken/f", null)] // the same path twice: a second mount-point file would truncate the first source
    [InlineData("/taken", null)] // above a taken path
    [InlineData("/taken/f/g", null)] // below one
    [InlineData("/taken2/f", "taken2/f")]
    public void A_file_source_takes_its_host_root_in_the_share_unless_that_is_taken(string? hostRoot, string? target) =>
        Assert.Equal(target, FileBindLayout.Target(hostRoot, ["rootfs", "m/0", "taken/f"]));

    [Fact]
    public void File_sources_of_the_vms_own_container_sit_at_their_host_root_and_directories_at_m_n()
    {
        var spec = new RuntimeSpec
        {
            Mounts =
            [
                new Mount { Destination = "/etc/hosts", Type = "bind", Source = "/etc/hosts", Options = ["rbind"] },
                new Mount { Destination = "/data", Type = "bind", Source = "/srv/data", Options = ["rbind"] },
                new Mount { Destination = "/also", Type = "bind", Source = "/etc/hosts", Options = ["bind"] },
                new Mount { Destination = "/name", Type = "bind", Source = "/m/name", Options = ["bind"] },
            ],
        };
        var loaded = new LoadedSpec("/b", "/b/config.json", "/b/rootfs", spec, []);
        bool IsFile(string p) => p != "/srv/data";
        SandboxPlan own = SandboxPlan.Create(loaded, s_config, "/s", _ => true, s_hostMounts, isFile: IsFile);
        Assert.Equal(["rootfs", "etc/hosts", "m/1", "m/2"], own.Share.Binds.Select(b => b.Target));
        Assert.Equal(["etc/hosts", "m/1", "etc/hosts", "m/2"], own.SharedMounts.Select(m => m.Path));
        SandboxPlan member = SandboxPlan.Create(loaded, s_config, "/s", _ => true, s_hostMounts, "c/k/", IsFile);
        Assert.Equal(["c/k/rootfs", "c/k/m/0", "c/k/m/1", "c/k/m/2"], member.Share.Binds.Select(b => b.Target));
        SandboxPlan noMountinfo = SandboxPlan.Create(loaded, s_config, "/s", _ => true, isFile: IsFile);
        Assert.Equal(["rootfs", "m/0", "m/1", "m/2"], noMountinfo.Share.Binds.Select(b => b.Target));
    }
}
