using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// The config.json that <c>vmsandbox spec</c> writes: the same data as runc 1.1's
/// <c>specconv.Example()</c> on a cgroup v2 host (the guest always runs cgroup v2, so the
/// cgroup namespace is always there). Hostname is "vmsandbox" where runc writes "runc".
/// </summary>
public static class DefaultSpec
{
    public const string Hostname = "vmsandbox";

    private static readonly string[] s_caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

    public static RuntimeSpec Create() => new()
    {
        OciVersion = SpecVersion.Current,
        Root = new Root { Path = "rootfs", Readonly = true },
        Process = new ProcessSpec
        {
            Terminal = true,
            User = new User(),
            Args = ["sh"],
            Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            Cwd = "/",
            NoNewPrivileges = true,
            Capabilities = new LinuxCapabilities { Bounding = s_caps, Effective = s_caps, Permitted = s_caps, Ambient = s_caps },
            Rlimits = [new ProcessSpec.Rlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
        },
        Hostname = Hostname,
        Mounts =
        [
            new Mount { Destination = "/proc", Type = "proc", Source = "proc" },
            new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            new Mount { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            new Mount { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new Mount { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            new Mount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
            new Mount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] },
        ],
        Linux = new LinuxSpec
        {
            Resources = new LinuxResources { Devices = [new LinuxResources.DeviceRule { Allow = false, Access = "rwm" }] },
            Namespaces =
            [
                new LinuxNamespace { Type = "pid" },
                new LinuxNamespace { Type = "network" },
                new LinuxNamespace { Type = "ipc" },
                new LinuxNamespace { Type = "uts" },
                new LinuxNamespace { Type = "mount" },
                new LinuxNamespace { Type = "cgroup" },
            ],
            MaskedPaths =
            [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    };
}
