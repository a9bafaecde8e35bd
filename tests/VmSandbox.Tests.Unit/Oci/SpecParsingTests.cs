using System.Text;
using System.Text.Json.Nodes;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class SpecParsingTests
{
    private static RuntimeSpec Parse(string json) => SpecLoader.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Docker_config_parses_with_its_values()
    {
        var warnings = new List<string>();
        RuntimeSpec spec = SpecLoader.ParseAndValidate(Encoding.UTF8.GetBytes(DockerConfigSample.Json), warnings);

        Assert.Empty(warnings);
        Assert.Equal("1.0.2-dev", spec.OciVersion);
        Assert.Equal(["sh", "-c", "echo hi"], spec.Process!.Args!);
        Assert.Equal(ulong.MaxValue, spec.Process.Rlimits![0].Hard);
        Assert.Equal([10u, 1000u], spec.Process.User.AdditionalGids!);
        Assert.Equal("/usr/bin/dockerd", spec.Hooks!.Prestart![0].Path);
        Assert.Equal(5, spec.Hooks.Poststop![0].Timeout);
        Assert.Equal(-1, spec.Linux!.Resources!.Memory!.Limit);
        Assert.Equal(-1, spec.Linux.Resources.Pids!.Limit);
        Assert.Equal(2114060288UL, spec.Linux.Seccomp!.Syscalls![2].Args![0].Value);
        Assert.Equal(38u, spec.Linux.Seccomp.Syscalls[3].ErrnoRet);
        Assert.Equal(8630u, spec.Linux.Devices![0].FileMode);
        Assert.Null(spec.Linux.Resources.Devices![0].Major);
        Assert.Equal("0 2147483647", spec.Linux.Sysctl!["net.ipv4.ping_group_range"]);
    }

    [Fact]
    public void Docker_config_round_trips_unchanged()
    {
        string written = SpecLoader.Serialize(Parse(DockerConfigSample.Json));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(DockerConfigSample.Json), JsonNode.Parse(written)), written);
        Assert.Equal(written, SpecLoader.Serialize(Parse(written)));
    }

    [Fact]
    public void Writes_the_spec_property_names()
    {
        string written = SpecLoader.Serialize(Parse(DockerConfigSample.Json));

        foreach (string name in new[] { "\"ociVersion\"", "\"kernelTCP\"", "\"disableOOMKiller\"", "\"blockIO\"", "\"apparmorProfile\"", "\"cgroupsPath\"", "\"valueTwo\"", "\"errnoRet\"", "\"fileMode\"" })
        {
            if (name is "\"kernelTCP\"")
            {
                continue; // not in the sample; checked below
            }
            Assert.Contains(name, written, StringComparison.Ordinal);
        }
        string memory = SpecLoader.Serialize(Parse("""{"ociVersion":"1.0.2","linux":{"resources":{"memory":{"kernelTCP":-1},"network":{"classID":7}}}}"""));
        Assert.Contains("\"kernelTCP\": -1", memory, StringComparison.Ordinal);
        Assert.Contains("\"classID\": 7", memory, StringComparison.Ordinal);
    }

    [Fact]
    public void Leaves_out_what_go_omits()
    {
        string written = SpecLoader.Serialize(Parse("""{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"r"}}"""));

        Assert.DoesNotContain("terminal", written, StringComparison.Ordinal);
        Assert.DoesNotContain("readonly", written, StringComparison.Ordinal);
        Assert.DoesNotContain("null", written, StringComparison.Ordinal);
        Assert.True(written.Contains("\"uid\": 0", StringComparison.Ordinal), written);
    }

    [Fact]
    public void Ignores_unknown_properties_and_matches_names_case_insensitively_like_go()
    {
        RuntimeSpec spec = Parse("""{"ociVersion":"1.2.0","future":{"x":[1,2]},"Process":{"ARGS":["sh"],"cwd":"/","ioPriority":{"class":"IOPRIO_CLASS_RT"}},"vm":{}}""");

        Assert.Equal(["sh"], spec.Process!.Args!);
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(-1L)]
    [InlineData(0L)]
    [InlineData(long.MaxValue)]
    public void Int64_limits_round_trip(long limit)
    {
        string json = "{\"ociVersion\":\"1.0.2\",\"linux\":{\"resources\":{\"memory\":{\"limit\":" + limit + "},\"pids\":{\"limit\":" + limit + "}}}}";
        RuntimeSpec again = Parse(SpecLoader.Serialize(Parse(json)));

        Assert.Equal(limit, again.Linux!.Resources!.Memory!.Limit);
        Assert.Equal(limit, again.Linux.Resources.Pids!.Limit);
    }

    [Fact]
    public void Non_ascii_and_plus_are_written_unescaped()
    {
        string written = SpecLoader.Serialize(Parse("""{"ociVersion":"1.0.2","hostname":"a+b","annotations":{"k":"é<>"}}"""));

        Assert.Contains("\"a+b\"", written, StringComparison.Ordinal);
        Assert.Contains("é", written, StringComparison.Ordinal);
    }
}
