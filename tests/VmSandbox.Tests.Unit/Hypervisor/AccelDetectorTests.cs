using VmSandbox.Common;
using VmSandbox.Hypervisor;
using Xunit;

namespace VmSandbox.Tests.Unit.Hypervisor;

public sealed class AccelDetectorTests
{
    [Theory]
    [InlineData(AccelMode.Auto, null, Accelerator.Kvm, false)]
    [InlineData(AccelMode.Auto, "no /dev/kvm", Accelerator.Tcg, true)]
    [InlineData(AccelMode.Tcg, null, Accelerator.Tcg, false)]
    [InlineData(AccelMode.Tcg, "no /dev/kvm", Accelerator.Tcg, false)]
    [InlineData(AccelMode.Kvm, null, Accelerator.Kvm, false)]
    public void Chooses_the_accelerator(AccelMode mode, string? kvmProblem, Accelerator expected, bool warns)
    {
        (Accelerator accel, string? warning) = new AccelDetector(() => kvmProblem).Choose(mode);
        Assert.Equal(expected, accel);
        Assert.Equal(warns, warning is not null);
        if (warns)
        {
            Assert.Contains(kvmProblem!, warning!, StringComparison.Ordinal);
            Assert.Contains("tcg", warning!, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Kvm_requested_but_unusable_is_an_error_with_a_fix()
    {
        var e = Assert.Throws<VmSandboxException>(() => new AccelDetector(() => "open /dev/kvm: permission denied").Choose(AccelMode.Kvm));
        Assert.Equal(ErrorCode.HostMissing, e.Code);
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Hint);
    }

    [Fact]
    public void Tcg_does_not_even_probe_kvm()
    {
        bool probed = false;
        new AccelDetector(() => { probed = true; return null; }).Choose(AccelMode.Tcg);
        Assert.False(probed);
    }

    [Theory]
    [InlineData("flags\t\t: fpu vme vmx sse", true)]
    [InlineData("flags\t\t: fpu svm sse", true)]
    [InlineData("flags\t\t: fpu hypervisor sse", false)]
    [InlineData("processor: 0", false)]
    [InlineData("flags\t\t: fpu vmxnet", false)]
    public void Cpu_flags_must_show_hardware_virtualisation(string cpuinfo, bool usable)
    {
        Assert.Equal(usable, AccelDetector.CpuFlagsUnusableReason(cpuinfo) is null);
    }

    [Theory]
    [InlineData("auto", AccelMode.Auto)]
    [InlineData("", AccelMode.Auto)]
    [InlineData(null, AccelMode.Auto)]
    [InlineData("KVM", AccelMode.Kvm)]
    [InlineData(" tcg ", AccelMode.Tcg)]
    public void Parses_modes(string? text, AccelMode expected) => Assert.Equal(expected, AccelDetector.ParseMode(text));

    [Theory]
    [InlineData("hvf")]
    [InlineData("kvm,tcg")]
    public void Rejects_unknown_modes(string text) =>
        Assert.Equal(ErrorCode.Config, Assert.Throws<VmSandboxException>(() => AccelDetector.ParseMode(text)).Code);
}
