namespace VmSandbox.Tests.Unit.Oci;

/// <summary>A config.json shaped like Docker 20.10's (trimmed seccomp profile, same structure).</summary>
internal static class DockerConfigSample
{
    public const string Json = """
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": { "uid": 0, "gid": 0, "additionalGids": [10, 1000] },
    "args": ["sh", "-c", "echo hi"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=3f2a9c"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"]
    },
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1048576 }],
    "apparmorProfile": "docker-default",
    "oomScoreAdj": 0
  },
  "root": { "path": "/var/lib/docker/overlay2/5d1c/merged" },
  "hostname": "3f2a9c",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"] },
    { "destination": "/etc/resolv.conf", "type": "bind", "source": "/var/lib/docker/containers/3f2a9c/resolv.conf", "options": ["rbind", "rprivate"] }
  ],
  "hooks": {
    "prestart": [
      { "path": "/usr/bin/dockerd", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "3f2a9c", "8c1f"] }
    ],
    "poststop": [{ "path": "/usr/bin/true", "env": ["A=1"], "timeout": 5 }]
  },
  "linux": {
    "sysctl": { "net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647" },
    "resources": {
      "devices": [
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm" },
        { "allow": true, "type": "c", "major": 136, "access": "rwm" }
      ],
      "memory": { "limit": -1, "swap": -1, "swappiness": 18446744073709551615, "disableOOMKiller": false },
      "cpu": { "shares": 1024, "quota": -1, "period": 100000, "cpus": "0-1", "mems": "0" },
      "pids": { "limit": -1 },
      "blockIO": { "weight": 500, "throttleReadBpsDevice": [{ "major": 8, "minor": 0, "rate": 1048576 }] },
      "hugepageLimits": [{ "pageSize": "2MB", "limit": 0 }],
      "unified": { "memory.high": "max" }
    },
    "cgroupsPath": "system.slice:docker:3f2a9c",
    "namespaces": [
      { "type": "mount" },
      { "type": "network" },
      { "type": "uts" },
      { "type": "pid" },
      { "type": "ipc" },
      { "type": "cgroup" }
    ],
    "devices": [{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 8630, "uid": 0, "gid": 0 }],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [
        { "names": ["accept", "accept4", "access", "read", "write"], "action": "SCMP_ACT_ALLOW" },
        { "names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }] },
        { "names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 2114060288, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ" }] },
        { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
      ]
    },
    "rootfsPropagation": "rprivate",
    "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
""";
}
