using Google.Protobuf;
using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Agent.Protocol;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// Runs, once and at idle priority, the code a first CreateContainer runs that costs nothing
/// but its first run: parsing a request and a Docker-like config.json, compiling its seccomp
/// profile, framing an init message and reading it back. Under TCG the first run of code is
/// its translation, and this code was ~0.2 s of the first container's create (issue 13, ADR
/// 0016); the container inits run the same binary at the same addresses, so what this
/// translates serves their parse too. SCHED_IDLE: it only fills the time the vCPU would idle
/// (a pooled VM's wait for its claim; in a cold start little, as the host's first calls keep
/// it busy), and a request preempts it. It never touches the guest's state: it only computes.
/// </summary>
public static class CreatePathWarmup
{
    /// <summary>Starts the warm-up thread (it ends by itself; a failure is ignored: it only costs time).</summary>
    public static void Start() => new Thread(Run) { IsBackground = true, Name = "create-warmup" }.Start();

    /// <summary>The work itself, on the calling thread; the tests run it to keep it in step with the create path.</summary>
    public static void RunOnce()
    {
        byte[] spec = SampleSpec.ToArray();
        var request = new CreateContainerRequest
        {
            ContainerId = "warmup",
            OciSpec = ByteString.CopyFrom(spec),
            Rootfs = new RootfsMount { ShareTag = "rootfs", Path = "rootfs" },
            Stdio = new Stdio { Stdout = new StdioStream { Port = 1, Token = 1 } },
            Bundle = "/warmup",
        };
        request.SharedMounts.Add(new SharedMount { Destination = "/data", ShareTag = "m0", Path = "", Options = { "rbind", "rw" } });
        CreateContainerRequest parsed = CreateContainerRequest.Parser.ParseFrom(request.ToByteArray());
        RuntimeSpec runtime = SpecLoader.ParseAndValidate(parsed.OciSpec.Span, new List<string>(), "config.json");
        SeccompProgram seccomp = SeccompProgram.Compile(runtime.Linux!.Seccomp!);
        byte[] frame = InitFrame.Encode(new InitMessage
        {
            Type = InitMessage.ConfigType,
            Mode = InitMessage.InitMode,
            ContainerId = parsed.ContainerId,
            SpecJson = spec,
            SeccompFilter = seccomp.FilterBytes(),
            SeccompFlags = (uint)seccomp.Flags,
            Rootfs = "/run/warmup",
            Bundle = parsed.Bundle,
            Binds = [new InitMessage.BindSource("/data", "/run/warmup/m0", ["sub"])],
        });
        _ = InitFrame.TryDecode(frame, out InitMessage? decoded, out _);
        _ = SeccompProgram.FromBytes(decoded!.SeccompFilter, decoded.SeccompFlags);
        _ = new CreateContainerResponse { Pid = 2 }.ToByteArray();
    }

    private static void Run()
    {
        _ = Scheduling.TrySetCallingThreadIdle();
        try
        {
            RunOnce();
        }
        catch (Exception)
        {
            // Only a head start was lost.
        }
    }

    /// <summary>A config.json shaped like Docker's: every part the create path reads, small.</summary>
    internal static ReadOnlySpan<byte> SampleSpec => """
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
