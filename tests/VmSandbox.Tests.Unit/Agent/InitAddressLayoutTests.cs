using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.Vm;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class InitAddressLayoutTests
{
    [Theory]
    [InlineData("console=ttyS0 norandmaps quiet\n", true)]
    [InlineData("norandmaps", true)]
    [InlineData("console=ttyS0 quiet", false)]
    [InlineData("xnorandmaps norandmaps=1", false)]
    public void Fixed_addresses_only_when_the_kernel_was_booted_with_norandmaps(string cmdline, bool expected)
    {
        var writes = new List<(string, string)>();
        Assert.Equal(expected, InitAddressLayout.Apply(cmdline, (path, text) => writes.Add((path, text))));
        // With it, randomisation is on again for everything else; without it, nothing is touched.
        Assert.Equal(expected ? [("/proc/sys/kernel/randomize_va_space", "2")] : [], writes);
    }

    [Fact]
    public void A_guest_that_cannot_turn_randomisation_on_again_fails_closed()
    {
        var e = Assert.Throws<VmSandboxException>(() => InitAddressLayout.Apply("norandmaps", (_, _) => throw new IOException("read-only file system")));
        Assert.Contains("randomize_va_space", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, Personality.PerLinux)]
    [InlineData("", Personality.PerLinux)]
    [InlineData("LINUX", Personality.PerLinux)]
    [InlineData("LINUX32", Personality.PerLinux32)]
    public void The_program_gets_the_specs_domain_and_never_the_inits_no_randomize_flag(string? domain, uint expected)
    {
        uint persona = ProcessSetup.PersonaOf(domain is null ? null : new LinuxPersonality { Domain = domain });
        Assert.Equal(expected, persona);
        Assert.Equal(0u, persona & Personality.AddrNoRandomize);
    }

    [Fact]
    public void An_unknown_domain_is_the_callers_error()
    {
        var e = Assert.Throws<VmSandboxException>(() => ProcessSetup.PersonaOf(new LinuxPersonality { Domain = "BSD" }));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
    }
}
