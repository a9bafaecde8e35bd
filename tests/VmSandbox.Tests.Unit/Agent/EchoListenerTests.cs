using VmSandbox.Agent.Api;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class EchoListenerTests
{
    [Theory]
    [InlineData("console=ttyS0 vmsandbox.echo_port=1025 quiet", 1025u)]
    [InlineData("vmsandbox.echo_port=1", 1u)]
    [InlineData("console=ttyS0 vmsandbox.echo_port=1025\n", 1025u)]
    [InlineData("console=ttyS0 quiet", null)]
    [InlineData("vmsandbox.echo_port=", null)]
    [InlineData("vmsandbox.echo_port=0", null)]
    [InlineData("vmsandbox.echo_port=-5", null)]
    [InlineData("vmsandbox.echo_port=99999999999", null)]
    [InlineData("xvmsandbox.echo_port=1025", null)]
    public void Echo_port_comes_only_from_a_well_formed_kernel_parameter(string cmdline, uint? expected) =>
        Assert.Equal(expected, EchoListener.PortFromCmdline(cmdline));
}
