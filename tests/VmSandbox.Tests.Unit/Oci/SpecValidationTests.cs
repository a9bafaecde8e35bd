using System.Text;
using VmSandbox.Common;
using VmSandbox.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class SpecValidationTests
{
    private const string Process = "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}";
    private const string Root = "\"root\":{\"path\":\"rootfs\"}";

    private static VmSandboxException Fails(string json) =>
        Assert.Throws<VmSandboxException>(() => SpecLoader.ParseAndValidate(Encoding.UTF8.GetBytes(json), new List<string>()));

    [Theory]
    [InlineData("{\"ociVersion\":\"1.0.0\"," + Root + "}")]
    [InlineData("{\"ociVersion\":\"1.0.2-dev\"," + Root + "," + Process + "}")]
    [InlineData("{\"ociVersion\":\"1.1.0\"," + Root + ",\"hostname\":\"h\",\"linux\":{\"namespaces\":[{\"type\":\"uts\"}]}}")]
    [InlineData("{\"ociVersion\":\"1.2.1+build.5\"," + Root + "}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"hostname\":\"h\"}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"A=\",\"B=c=d\"],\"oomScoreAdj\":-1000}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"hard\":5,\"soft\":5}]}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/var/run/netns/x\"},{\"type\":\"time\"},{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/7/ns/user\"}]}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"timeout\":1}]}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"ipc\"},{\"type\":\"network\"},{\"type\":\"uts\"}],\"sysctl\":{\"kernel.shmmax\":\"1\",\"fs.mqueue.queues_max\":\"100\",\"net.ipv4.ip_forward\":\"1\",\"kernel.domainname\":\"d\"}}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"rwa\"}]}}}")] // runc drops the "a"
    public void Accepts_valid_configs(string json) =>
        SpecLoader.ParseAndValidate(Encoding.UTF8.GetBytes(json), new List<string>());

    [Theory]
    // version
    [InlineData("{" + Root + "}", "config.json: ociVersion: must be set")]
    [InlineData("{\"ociVersion\":\"0.6.0\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"0.6.0\"")]
    [InlineData("{\"ociVersion\":\"2.0.0\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"2.0.0\"")]
    [InlineData("{\"ociVersion\":\"1.3.0\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"1.3.0\"")]
    [InlineData("{\"ociVersion\":\"1.0\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"1.0\"")]
    [InlineData("{\"ociVersion\":\"01.0.0\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"01.0.0\"")]
    [InlineData("{\"ociVersion\":\"1.0.2-\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"1.0.2-\"")]
    [InlineData("{\"ociVersion\":\"banana\"," + Root + "}", "config.json: ociVersion: unsupported spec version \"banana\"")]
    // root
    [InlineData("{\"ociVersion\":\"1.0.2\"}", "config.json: root: must be set")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{}}", "config.json: root.path: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"\"}}", "config.json: root.path: must not be empty")]
    // process
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[],\"cwd\":\"/\"}}", "config.json: process.args: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"cwd\":\"/\"}}", "config.json: process.args: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"]}}", "config.json: process.cwd: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"tmp\"}}", "config.json: process.cwd: \"tmp\" is not an absolute path")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"A=1\",\"NOEQ\"]}}", "config.json: process.env[1]: invalid environment variable \"NOEQ\": missing '='")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"=x\"]}}", "config.json: process.env[0]: invalid environment variable \"=x\": name cannot be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"hard\":1,\"soft\":1}]}}", "config.json: process.rlimits[0]: unknown rlimit type \"RLIMIT_FOO\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":1},{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":1}]}}", "config.json: process.rlimits[1]: duplicate rlimit type \"RLIMIT_NOFILE\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":2048}]}}", "config.json: process.rlimits[0]: soft limit 2048 is above hard limit 1024")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"oomScoreAdj\":1001}}", "config.json: process.oomScoreAdj: 1001 is outside -1000..1000")]
    // wrong JSON types and ranges
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":\"sh\",\"cwd\":\"/\"}}", "config.json: process.args: expected array of strings, got string (line 1, byte 66)")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}}", "config.json: process.user.uid: expected uint32, got -1 (line 1, byte 97)")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":4294967296}}}", "config.json: process.user.uid: expected uint32, got 4294967296 (line 1, byte 97)")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":\"yes\"}}", "config.json: process.terminal: expected bool, got string (line 1, byte 94)")]
    [InlineData("{\"ociVersion\":1," + Root + "}", "config.json: ociVersion: expected string, got 1 (line 1, byte 15)")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":null}}", "config.json: root.path: expected string, got null (line 1, byte 38)")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"linux\":{\"resources\":{\"memory\":{\"limit\":1.5}}}," + Root + "}", "config.json: linux.resources.memory.limit: expected int64, got 1.5 (line 1, byte 63)")]
    [InlineData("[1,2]", "config.json: document: expected object, got array (line 1, byte 1)")]
    [InlineData("null", "config.json: expected an object, got null")]
    // nulls and hostile strings
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"mounts\":[null]}", "config.json: null is not allowed in an array (line 1, byte 58)")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"annotations\":{\"k\":null}}", "config.json: annotations[\"k\"]: must not be null")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"a\\nb\"}]}}", "config.json: linux.namespaces[0]: unknown namespace type \"a\\nb\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"annotations\":{\"a\\nb\":1}}", "config.json: annotations.a\\nb: expected string, got 1 (line 1, byte 70)")]
    // mounts
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"mounts\":[{\"type\":\"proc\"}]}", "config.json: mounts[0].destination: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"mounts\":[{\"destination\":\"/p\"},{\"destination\":\"proc\"}]}", "config.json: mounts[1].destination: \"proc\" is not an absolute path")]
    // hooks
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"hooks\":{\"prestart\":[{\"args\":[\"x\"]}]}}", "config.json: hooks.prestart[0].path: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"hooks\":{\"poststop\":[{\"path\":\"bin/x\"}]}}", "config.json: hooks.poststop[0].path: \"bin/x\" is not an absolute path")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"hooks\":{\"createRuntime\":[{\"path\":\"/x\",\"timeout\":0}]}}", "config.json: hooks.createRuntime[0].timeout: 0 is not a positive number of seconds")]
    // namespaces
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"net\"}]}}", "config.json: linux.namespaces[1]: unknown namespace type \"net\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}", "config.json: linux.namespaces[1]: duplicate namespace type \"pid\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"netns\"}]}}", "config.json: linux.namespaces[0]: path \"netns\" is not an absolute path")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"hostname\":\"h\",\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}", "config.json: hostname: cannot be set without a private uts namespace")]
    // linux
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":0}]}}", "config.json: linux.uidMappings[0].size: must be greater than 0")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}", "config.json: linux.namespaces: user namespace enabled, but no namespace path to join nor mappings to apply specified")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}", "config.json: linux.uidMappings: user namespace mappings specified, but user namespace isn't enabled in the config")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}", "config.json: linux.gidMappings: must not be empty in a new user namespace")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536},{\"containerID\":1,\"hostID\":0,\"size\":1}],\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}", "config.json: linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]}}", "config.json: linux.devices[0].type: unknown device type \"q\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"devices\":[{\"path\":\"dev/x\",\"type\":\"c\"}]}}", "config.json: linux.devices[0].path: \"dev/x\" is not an absolute path")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}}}", "config.json: linux.resources.devices[0].type: unknown device type \"x\"")]
    // runc's sysctl rules (crun's not-allowed-*-sysctl and uts-sysctl tests)
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"sysctl\":{\"fs.mqueue.queues_max\":\"100\"}}}", "config.json: linux.sysctl: sysctl \"fs.mqueue.queues_max\" is not allowed in the hosts ipc namespace")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"sysctl\":{\"kernel.msgmax\":\"8192\"}}}", "config.json: linux.sysctl: sysctl \"kernel.msgmax\" is not allowed in the hosts ipc namespace")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"ipc\"}],\"sysctl\":{\"net.ipv4.ping_group_range\":\"0 0\"}}}", "config.json: linux.sysctl: sysctl \"net.ipv4.ping_group_range\" is not allowed in the hosts network namespace")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"uts\"}],\"sysctl\":{\"kernel.hostname\":\"foo\"}}}", "config.json: linux.sysctl: sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI \"hostname\" field")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"sysctl\":{\"kernel.domainname\":\"foo\"}}}", "config.json: linux.sysctl: sysctl \"kernel.domainname\" is not in a separate kernel namespace")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"namespaces\":[{\"type\":\"ipc\"},{\"type\":\"network\"},{\"type\":\"uts\"}],\"sysctl\":{\"vm.overcommit_memory\":\"1\"}}}", "config.json: linux.sysctl: sysctl \"vm.overcommit_memory\" is not in a separate kernel namespace")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOPE\"}}}", "config.json: linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_VAX\"]}}}", "config.json: linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_VAX\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_ALLOW\"}]}}}", "config.json: linux.seccomp.syscalls[0].names: must not be empty")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"ALLOW\"}]}}}", "config.json: linux.seccomp.syscalls[0].action: unknown action \"ALLOW\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}}", "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is above 5")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"EQ\"}]}]}}}", "config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator \"EQ\"")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"maskedPaths\":[\"proc/kcore\"]}}", "config.json: linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"readonlyPaths\":[\"/ok\",\"sys\"]}}", "config.json: linux.readonlyPaths[1]: \"sys\" is not an absolute path")]
    [InlineData("{\"ociVersion\":\"1.0.2\"," + Root + ",\"linux\":{\"rootfsPropagation\":\"weird\"}}", "config.json: linux.rootfsPropagation: unknown propagation \"weird\"")]
    // syntax
    [InlineData("", "config.json: empty document")]
    [InlineData("  \n ", "config.json: empty document")]
    [InlineData("{\"ociVersion\":\"1.0.2\",}", "config.json: invalid json at line 1, byte 23: the JSON object contains a trailing comma at the end which is not supported in this mode. Change the reader options")]
    [InlineData("{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": {\"path\": rootfs}\n}", "config.json: invalid json at line 3, byte 20: 'r' is an invalid start of a value")]
    [InlineData("{\"ociVersion\":\"1.0.2\"", "config.json: invalid json at line 1, byte 22: expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed")]
    [InlineData("{} {}", "config.json: invalid json at line 1, byte 4: '{' is invalid after a single JSON value. Expected end of data")]
    public void Rejects_invalid_configs_with_one_line_messages(string json, string message)
    {
        VmSandboxException e = Fails(json);

        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal(message, VmSandboxException.FormatChain(e));
    }

    [Fact]
    public void Unknown_capabilities_are_warnings_like_runc()
    {
        var warnings = new List<string>();
        SpecLoader.ParseAndValidate(Encoding.UTF8.GetBytes("{\"ociVersion\":\"1.0.2\"," + Root
            + ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_FOO\",\"CAP_FOO\"],\"ambient\":[\"cap_kill\"]}}}"), warnings);

        Assert.Equal(
            ["process.capabilities.bounding: ignoring unknown capability \"CAP_FOO\"", "process.capabilities.ambient: ignoring unknown capability \"cap_kill\""],
            warnings);
    }

    [Fact]
    public void Deeply_nested_json_is_refused_not_overflowed()
    {
        string json = new string('[', 10_000) + new string(']', 10_000);

        Assert.StartsWith("config.json: invalid json at line 1, byte 65: ", Fails(json).Message, StringComparison.Ordinal);
    }
}
