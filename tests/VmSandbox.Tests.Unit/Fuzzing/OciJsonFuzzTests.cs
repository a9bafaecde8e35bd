using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Tests.Unit.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// The OCI documents the caller hands the runtime: config.json (create, run), the process JSON of
/// `exec --process` and the resources of `update --resources`. Each is parsed and validated, then
/// put through what the host does next without touching the file system (the sandbox plan: the
/// share, its binds and the VM's size; the warm-pool check; the copy the guest receives).
/// </summary>
public sealed class OciJsonFuzzTests
{
    private static readonly RuntimeConfig s_config = new() { MemoryMiB = 256, Vcpus = 1, PoolSize = 1 };

    private static readonly string[] s_hostMounts =
    [
        "22 1 0:20 / / rw - ext4 /dev/sda1 rw",
        "30 22 0:30 / /var/lib/docker rw - xfs /dev/sdb1 rw",
        "33 22 0:30 /volumes/v/_data /srv/a\\040b rw - xfs /dev/sdb1 rw",
    ];

    private const string Minimal = """{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"mounts":[{"destination":"/data","type":"bind","source":"/srv/a b","options":["rbind","ro"]},{"destination":"/etc/hosts","type":"bind","source":"hosts","options":["bind"]}],"linux":{"namespaces":[{"type":"network"}],"resources":{"memory":{"limit":536870912},"cpu":{"quota":200000,"period":100000,"cpus":"0-1"}}},"annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-memory":"1073741824","io.kubernetes.cri.sandbox-cpu-quota":"300000","io.kubernetes.cri.sandbox-cpu-period":"100000"}}""";

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Config_json()
    {
        var target = new FuzzTarget("config.json (create, run)",
            "mutated config.json documents (Docker's, a pod sandbox's, runc spec's) through SpecLoader.ParseAndValidate, then the sandbox plan, the warm-pool check and the copy for the guest",
            "each is loaded or refused with one VmSandboxException line; nothing else thrown, bounded time and memory")
        {
            Seeds = [FuzzSeeds.Utf8(DockerConfigSample.Json), FuzzSeeds.Utf8(Minimal), FuzzSeeds.Utf8(SpecLoader.Serialize(DefaultSpec.Create()))],
            Tokens = FuzzSeeds.JsonTokens,
            Corpus = "config-json",
        };
        Fuzzer.Run(target, ConfigJson).RecordAndAssert();
    }

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Process_json()
    {
        var target = new FuzzTarget("process.json (exec --process)",
            "mutated process objects through ProcessLoader.Parse and back to the JSON the guest receives",
            "each is loaded or refused with one VmSandboxException line; nothing else thrown")
        {
            Seeds = [FuzzSeeds.Utf8(ProcessLoader.Serialize(SpecLoader.Parse(FuzzSeeds.Utf8(DockerConfigSample.Json)).Process!)),
                FuzzSeeds.Utf8("""{"args":["sh","-c","id"],"cwd":"/","terminal":true,"consoleSize":{"height":24,"width":80},"user":{"uid":1000,"gid":1000,"umask":18},"env":["A=1"],"noNewPrivileges":true}""")],
            Tokens = FuzzSeeds.JsonTokens,
        };
        Fuzzer.Run(target, input =>
        {
            ProcessSpec process = ProcessLoader.Parse(input, new List<string>());
            _ = ProcessLoader.Serialize(process);
            return true;
        }).RecordAndAssert();
    }

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Resources_json()
    {
        var target = new FuzzTarget("resources JSON (update --resources)",
            "mutated LinuxResources objects through SpecLoader.ParseResources, the VM size rule and back to the JSON the guest receives",
            "each is loaded or refused with one VmSandboxException line; nothing else thrown")
        {
            Seeds = [FuzzSeeds.Utf8("""{"memory":{"limit":536870912,"reservation":0,"swap":-1},"cpu":{"shares":1024,"quota":150000,"period":100000,"cpus":"0-3,5","mems":"0"},"pids":{"limit":100},"blockIO":{"weight":500},"unified":{"memory.high":"max"}}"""),
                FuzzSeeds.Utf8("""{"cpu":{"cpus":"0-4095"}}""")],
            Tokens = FuzzSeeds.JsonTokens,
        };
        Fuzzer.Run(target, input =>
        {
            LinuxResources resources = SpecLoader.ParseResources(input, "resources");
            _ = SandboxPlan.Size(resources, s_config);
            _ = SpecLoader.SerializeResources(resources);
            return true;
        }).RecordAndAssert();
    }

    /// <summary>What create does with a config on the host before the VM exists (no file system access).</summary>
    internal static bool ConfigJson(byte[] input)
    {
        var warnings = new List<string>();
        RuntimeSpec spec = SpecLoader.ParseAndValidate(input, warnings);
        var loaded = new LoadedSpec("/bundle", "/bundle/config.json", "/bundle/rootfs", spec, warnings, input);
        _ = SandboxPlan.Create(loaded, s_config, "/share", _ => true, s_hostMounts, "", p => !p.EndsWith('/'));
        _ = SandboxPlan.Create(loaded, s_config, "/share", _ => true, s_hostMounts, SandboxPlan.MemberPrefix("member"));
        _ = WarmPool.Unfit(spec, s_config);
        _ = SpecLoader.Serialize(spec);
        return true;
    }
}
