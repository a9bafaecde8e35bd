using System.Text.Json.Nodes;

namespace VmSandbox.Tests.Vm;

/// <summary>Docker-like OCI config.json and process documents for the container tests.</summary>
internal static class ContainerSpecs
{
    public static readonly string[] DockerCaps =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    public static JsonObject Process(params string[] args) => new()
    {
        ["terminal"] = false,
        ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
        ["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]),
        ["env"] = new JsonArray("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"),
        ["cwd"] = "/",
        ["capabilities"] = Caps(DockerCaps),
        ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 }),
        ["noNewPrivileges"] = true,
    };

    public static JsonObject Caps(IEnumerable<string> caps)
    {
        JsonArray List() => new([.. caps.Select(c => JsonValue.Create(c))]);
        return new JsonObject { ["bounding"] = List(), ["effective"] = List(), ["permitted"] = List() };
    }

    public static JsonObject Spec(JsonObject process) => new()
    {
        ["ociVersion"] = "1.0.2",
        ["process"] = process,
        ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = false },
        ["hostname"] = "box",
        ["mounts"] = new JsonArray(
            Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
            Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
            Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
            Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
            Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
        ["linux"] = new JsonObject
        {
            ["maskedPaths"] = new JsonArray("/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"),
            ["readonlyPaths"] = new JsonArray("/proc/sys", "/proc/sysrq-trigger"),
            ["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "ipc" }, new JsonObject { ["type"] = "uts" },
                new JsonObject { ["type"] = "mount" }, new JsonObject { ["type"] = "network" }),
        },
    };

    public static JsonObject Mount(string destination, string type, string source, params string[] options) => new()
    {
        ["destination"] = destination,
        ["type"] = type,
        ["source"] = source,
        ["options"] = new JsonArray([.. options.Select(o => JsonValue.Create(o))]),
    };

    /// <summary>A seccomp profile that allows everything but makes mkdir/mkdirat fail with EPERM.</summary>
    public static JsonObject DenyMkdir() => new()
    {
        ["defaultAction"] = "SCMP_ACT_ALLOW",
        ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray(new JsonObject
        {
            ["names"] = new JsonArray("mkdir", "mkdirat"),
            ["action"] = "SCMP_ACT_ERRNO",
            ["errnoRet"] = 1,
        }),
    };
}
