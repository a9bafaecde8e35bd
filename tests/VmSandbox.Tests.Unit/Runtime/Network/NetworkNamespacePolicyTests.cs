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
        NetworkNamespacePolicy.ThrowIfUnsupported(With(new LinuxNamespace { Type = "pid" }, new LinuxNamespace { Type = "network", Path = path }));
    }

    [Fact]
    public void The_hosts_network_is_refused_in_one_line()
    {
        var e = Assert.Throws<VmSandboxException>(() => NetworkNamespacePolicy.ThrowIfUnsupported(With(new LinuxNamespace { Type = "pid" })));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Contains("--network host", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("/proc/4242/ns/net")]
    [InlineData("/proc/1/task/1/ns/net")]
    public void Another_containers_namespace_is_refused(string path)
    {
        var e = Assert.Throws<VmSandboxException>(() => NetworkNamespacePolicy.ThrowIfUnsupported(With(new LinuxNamespace { Type = "network", Path = path })));
        Assert.Contains("--network container:", e.Message, StringComparison.Ordinal);
    }
}
