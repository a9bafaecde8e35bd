using System.Text.Json.Nodes;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class FeaturesTests
{
    private static readonly JsonNode s_json = JsonNode.Parse(Features.Create("0.1.0").ToJson())!;

    [Fact]
    public void Has_runcs_top_level_shape_in_order()
    {
        Assert.Equal(["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations"],
            s_json.AsObject().Select(p => p.Key));
        Assert.Equal(["namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux"],
            s_json["linux"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public void Says_what_vmsandbox_supports()
    {
        Assert.Equal("1.0.0", (string?)s_json["ociVersionMin"]);
        Assert.Equal("1.2.0", (string?)s_json["ociVersionMax"]);
        Assert.Equal(["cgroup", "ipc", "mount", "network", "pid", "user", "uts"], s_json["linux"]!["namespaces"]!.AsArray().Select(n => (string?)n));
        Assert.True((bool?)s_json["linux"]!["seccomp"]!["enabled"]);
        Assert.False((bool?)s_json["linux"]!["apparmor"]!["enabled"]);
        Assert.True((bool?)s_json["linux"]!["cgroup"]!["v2"]);
        Assert.False((bool?)s_json["linux"]!["cgroup"]!["systemdUser"]);
        Assert.Equal(41, s_json["linux"]!["capabilities"]!.AsArray().Count);
        Assert.Contains("SCMP_CMP_MASKED_EQ", s_json["linux"]!["seccomp"]!["operators"]!.AsArray().Select(n => (string?)n));
        Assert.Contains("rbind", s_json["mountOptions"]!.AsArray().Select(n => (string?)n));
        Assert.Equal("0.1.0", (string?)s_json["annotations"]![Features.VersionAnnotation]);
    }

    [Fact]
    public void Is_indented_with_four_spaces_and_ends_with_a_newline()
    {
        string text = Features.Create("x").ToJson();

        Assert.StartsWith("{\n    \"ociVersionMin\": \"1.0.0\",", text, StringComparison.Ordinal);
        Assert.EndsWith("}\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_advertised_mount_option_and_seccomp_name_is_sorted()
    {
        Assert.Equal(MountOptionNames.Known.Order(StringComparer.Ordinal), MountOptionNames.Known);
        Assert.Equal(LinuxSeccomp.KnownActions.Order(StringComparer.Ordinal), LinuxSeccomp.KnownActions);
    }
}
