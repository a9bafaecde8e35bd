using VmSandbox.Common;
using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Unit.Interop;

public sealed class InteropTests
{
    [Fact]
    public void Syscall_errors_name_call_path_and_errno()
    {
        VmSandboxException e = SyscallError.Create("mount", "/proc", 19);
        Assert.Equal(ErrorCode.System, e.Code);
        Assert.Equal(19, e.Errno);
        Assert.Equal("mount /proc: no such device (errno 19)", e.Message);
    }

    [Fact]
    public void Kvm_probe_explains_a_missing_device() =>
        Assert.Equal("/nonexistent/kvm does not exist", Kvm.ProbeUnusableReason("/nonexistent/kvm"));

    [Fact]
    public void Kvm_probe_rejects_a_device_that_is_not_kvm()
    {
        string? reason = Kvm.ProbeUnusableReason("/dev/null");
        Assert.NotNull(reason);
        Assert.Contains("/dev/null", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Module_load_of_a_missing_file_fails_with_its_path()
    {
        var e = Assert.Throws<VmSandboxException>(() => KernelModule.Load("/nonexistent/x.ko"));
        Assert.Equal("open /nonexistent/x.ko: no such file or directory (errno 2)", e.Message);
    }

    [Fact]
    public void Reaping_without_children_returns_zero() => Assert.True(ProcessCalls.ReapAny(out _) >= 0);

    [Fact]
    public void Error_chain_prints_each_level_once_with_the_first_hint()
    {
        var inner = new VmSandboxException(ErrorCode.HostMissing, "qemu /x not found") { Hint = "make setup" };
        var outer = new VmSandboxException(ErrorCode.Vm, "boot sandbox a", inner);
        Assert.Equal("boot sandbox a: qemu /x not found (fix: make setup)", VmSandboxException.FormatChain(outer));
        Assert.Equal(ErrorCode.Vm, VmSandboxException.CodeOf(outer));
    }
}
