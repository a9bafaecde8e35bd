using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Oci;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// A sample of the create path's own work, on a Docker-like config.json: what the agent's
/// create-path warm-up and a pre-spawned container init run ahead (ADR 0016).
/// </summary>
public static class InitWarmup
{
    /// <summary>
    /// What a pre-spawned container init runs while it waits (a pre-spawned init, docs/protocols/agent-api.md): the
    /// decode of its config and the spec's parse, on a sample. A fresh init spends ~0.2 s of a
    /// create there under TCG, most of it first touches of its own pages and heap.
    /// </summary>
    public static void RunOnce()
    {
        try
        {
            byte[] spec = SampleSpec.ToArray();
            byte[] frame = InitFrame.Encode(new InitMessage
            {
                Type = InitMessage.ConfigType,
                Mode = InitMessage.InitMode,
                ContainerId = "warmup",
                SpecJson = spec,
                Rootfs = "/run/warmup",
                Bundle = "/warmup",
                Binds = [new InitMessage.BindSource("/data", "/run/warmup/m0", ["sub"])],
            });
            _ = InitFrame.TryDecode(frame, out InitMessage? decoded, out _);
            _ = SpecLoader.ParseAndValidate(decoded!.SpecJson, new List<string>(), "config.json");
        }
        catch (Exception)
        {
            // Only a head start was lost.
        }
    }

    /// <summary>A config.json shaped like Docker's: every part the create path reads, small.</summary>
    public static ReadOnlySpan<byte> SampleSpec => """
        {"ociVersion":"1.2.0",
         "process":{"user":{"uid":0,"gid":0,"additionalGids":[0,10]},"args":["sh","-c","true"],
           "env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","HOSTNAME=warmup"],"cwd":"/",
           "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN","CAP_KILL"],"permitted":["CAP_CHOWN","CAP_KILL"]},
           "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"apparmorProfile":"docker-default","oomScoreAdj":0,"noNewPrivileges":true},
         "root":{"path":"rootfs"},"hostname":"warmup",
         "mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
           {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
           {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
           {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
           {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro","nosuid","noexec","nodev"]},
           {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
           {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=67108864"]},
           {"destination":"/etc/hosts","type":"bind","source":"/var/lib/docker/containers/warmup/hosts","options":["rbind","rprivate"]},
           {"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","rw"]}],
         "hooks":{"createRuntime":[{"path":"/usr/bin/dockerd","args":["libnetwork-setkey","-exec-root=/var/run/docker","warmup","0"],"timeout":5}]},
         "annotations":{"io.warmup":"1"},
         "linux":{"sysctl":{"net.ipv4.ip_unprivileged_port_start":"0"},
           "resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}],
             "memory":{"limit":268435456,"swap":536870912},"cpu":{"shares":1024,"quota":100000,"period":100000},"pids":{"limit":1024},
             "blockIO":{"weight":100}},
           "cgroupsPath":"system.slice:docker:warmup",
           "namespaces":[{"type":"mount"},{"type":"network"},{"type":"uts"},{"type":"pid"},{"type":"ipc"},{"type":"cgroup"}],
           "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
             "syscalls":[{"names":["read","write","openat","execve","exit_group"],"action":"SCMP_ACT_ALLOW"},
               {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
               {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
               {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,"args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"}]}]},
           "maskedPaths":["/proc/asound","/proc/acpi","/proc/kcore","/sys/firmware"],
           "readonlyPaths":["/proc/bus","/proc/fs","/proc/sys","/proc/sysrq-trigger"]}}
        """u8;
}
