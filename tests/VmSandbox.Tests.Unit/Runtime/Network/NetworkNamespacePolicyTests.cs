using VmSandbox.Common;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Network;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime.Network;

public sealed class NetworkNamespacePolicyTests
{
    private static RuntimeSpec With(params LinuxNamespace[] namespaces) => new() { Linux = new LinuxSpec { Namespaces = [.. namespaces] } };

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("/var/run/netns/cni-1234")]
    [InlineData("/run/netns/netns-abc")]
    [InlineData("/proc/self/ns/net2")]
    public void A_new_or_prepared_namespace_is_accepted(string? path)
    {
        NetworkNamespacePolicy.ThrowIfUnsupported(With(new LinuxNamespace { Type = "pid" }, new LinuxNamespace { Type = "network", Path = path }), Never);
    }

    [Fact]
    public void The_hosts_network_is_refused_in_one_line()
    {
        var e = Assert.Throws<VmSandboxException>(() => NetworkNamespacePolicy.ThrowIfUnsupported(With(new LinuxNamespace { Type = "pid" }), Never));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Contains("--network host", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static bool Never(string a, string b) => false;

    [Fact]
    public void Dockers_bind_mount_of_the_hosts_namespace_is_the_host_network()
    {
        // docker run --network host: the spec names <exec-root>/netns/default.
        var e = Assert.Throws<VmSandboxException>(() => NetworkNamespacePolicy.ThrowIfUnsupported(
            With(new LinuxNamespace { Type = "network", Path = "/var/run/docker/netns/default" }),
            (a, b) => a == "/var/run/docker/netns/default" && b == NetworkNamespacePolicy.HostNamespace));
        Assert.Contains("--network host", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_real_comparison_follows_namespace_identity()
    {
        // Two names of one namespace are equal; a missing path is never the host's.
        Assert.True(NetworkNamespacePolicy.SameNamespace("/proc/self/ns/net", "/proc/thread-self/ns/net"));
        Assert.False(NetworkNamespacePolicy.SameNamespace("/nonexistent/ns", NetworkNamespacePolicy.HostNamespace));
        Assert.False(NetworkNamespacePolicy.SameNamespace("/proc/self/ns/mnt", "/proc/self/ns/net"));
    }

    [Theory]
    [InlineData("/proc/4242/ns/net")]
    [InlineData("/proc/1/task/1/ns/net")]
    public void Another_containers_namespace_is_refused(string path)
    {
        var e = Assert.Throws<VmSandboxException>(() => NetworkNamespacePolicy.ThrowIfUnsupported(With(new LinuxNamespace { Type = "network", Path = path }), Never));
        Assert.Contains("--network container:", e.Message, StringComparison.Ordinal);
    }
}
