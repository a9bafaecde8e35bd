using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class MachineSettingTests
{
    [Theory]
    [InlineData(null, GuestKernelKind.Minimal, MachineType.Microvm)]
    [InlineData("auto", GuestKernelKind.Minimal, MachineType.Microvm)]
    [InlineData("auto", GuestKernelKind.Debian, MachineType.Q35)]
    [InlineData("auto", GuestKernelKind.Custom, MachineType.Q35)]
    [InlineData("q35", GuestKernelKind.Minimal, MachineType.Q35)]
    [InlineData("Q35", GuestKernelKind.Debian, MachineType.Q35)]
    [InlineData("microvm", GuestKernelKind.Minimal, MachineType.Microvm)]
    [InlineData("microvm", GuestKernelKind.Custom, MachineType.Microvm)]
    public void Auto_is_microvm_for_the_minimal_kernel_and_q35_otherwise(string? setting, GuestKernelKind kernel, MachineType expected) =>
        Assert.Equal(expected, MachineSetting.Select(setting, kernel));

    [Fact]
    public void Microvm_with_the_debian_kernel_is_refused_at_load_not_at_boot()
    {
        var e = Assert.Throws<VmSandboxException>(() => MachineSetting.Select("microvm", GuestKernelKind.Debian));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Contains("cannot boot Debian's cloud kernel", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pc")]
    [InlineData("no-such-machine")]
    public void Another_word_is_a_config_error_naming_the_choices(string setting)
    {
        var e = Assert.Throws<VmSandboxException>(() => MachineSetting.Select(setting, GuestKernelKind.Minimal));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Equal($"hypervisor.machine \"{setting}\" is neither auto, microvm nor q35", e.Message);
    }
}
