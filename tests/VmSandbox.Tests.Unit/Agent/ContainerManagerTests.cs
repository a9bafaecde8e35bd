using VmSandbox.Agent.Containers;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class ContainerManagerTests
{
    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public void Create_refuses_ids_the_host_refuses(string id)
    {
        var manager = new ContainerManager(new ProcessSpawner(new VmSandbox.Agent.Vm.ChildRegistry()), new ShareMounter());
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => manager.Create(new CreateContainerRequest { ContainerId = id }));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.StartsWith("invalid id", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_refuses_an_id_longer_than_the_hosts_limit()
    {
        // The agent used to allow runc's 1024 characters; host and guest now share one rule.
        var manager = new ContainerManager(new ProcessSpawner(new VmSandbox.Agent.Vm.ChildRegistry()), new ShareMounter());
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => manager.Create(new CreateContainerRequest { ContainerId = new string('a', 129) }));
        Assert.Contains("longer than 128", e.Message, StringComparison.Ordinal);
    }
}
