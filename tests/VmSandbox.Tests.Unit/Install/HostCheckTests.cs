using VmSandbox.Hypervisor;
using VmSandbox.Install.Check;
using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Unit.Install;

public sealed class HostCheckTests
{
    private static readonly RuntimeConfig s_config = new() { KernelPath = "/g/vmlinuz", InitrdPath = "/g/initramfs.img" };

    private static IReadOnlyList<CheckItem> Run(HashSet<string> files, string? kvmProblem, AccelMode mode = AccelMode.Auto, string[]? tools = null) =>
        new HostCheck(s_config with { Accel = mode }, files.Contains, new AccelDetector(() => kvmProblem),
            b => (tools ?? []).Contains(b) ? "/usr/bin/" + b : null).Run();

    private static readonly HashSet<string> s_all = ["/usr/bin/qemu-system-x86_64", "/usr/lib/qemu/virtiofsd", "/g/vmlinuz", "/g/initramfs.img"];

    [Fact]
    public void Everything_present_can_start_a_vm()
    {
        var items = Run(s_all, null, tools: ["dockerd", "containerd"]);
        Assert.True(HostCheck.CanStartVm(items));
        Assert.All(items, i => Assert.True(i.Ok, i.Name));
    }

    [Theory]
    [InlineData("/usr/bin/qemu-system-x86_64", "qemu", "make setup")]
    [InlineData("/g/vmlinuz", "guest kernel", "make guest")]
    [InlineData("/g/initramfs.img", "guest initramfs", "make guest")]
    public void A_missing_required_file_blocks_vm_start_and_names_the_fix(string missing, string name, string fix)
    {
        var files = new HashSet<string>(s_all);
        files.Remove(missing);
        var items = Run(files, null);
        Assert.False(HostCheck.CanStartVm(items));
        CheckItem item = items.Single(i => i.Name == name);
        Assert.False(item.Ok);
        Assert.StartsWith(fix, item.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(GuestKernelKind.Minimal, "minimal kernel")]
    [InlineData(GuestKernelKind.Debian, "Debian cloud kernel")]
    [InlineData(GuestKernelKind.Custom, "guest.kernel")]
    public void The_guest_kernel_line_names_the_path_and_the_kind(GuestKernelKind kind, string what)
    {
        var items = new HostCheck(s_config with { KernelKind = kind }, s_all.Contains, new AccelDetector(() => null), _ => null).Run();
        string detail = items.Single(i => i.Name == "guest kernel").Detail;
        Assert.StartsWith("/g/vmlinuz (", detail, StringComparison.Ordinal);
        Assert.Contains(what, detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Tcg_fallback_still_starts_vms_but_says_so()
    {
        var items = Run(s_all, "no /dev/kvm");
        Assert.True(HostCheck.CanStartVm(items));
        Assert.Contains("tcg fallback", items.Single(i => i.Name == "acceleration").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Forced_kvm_without_kvm_blocks_vm_start()
    {
        var items = Run(s_all, "no /dev/kvm", AccelMode.Kvm);
        Assert.False(HostCheck.CanStartVm(items));
    }

    [Fact]
    public void Vsock_is_hybrid_and_needs_no_host_device()
    {
        CheckItem vsock = Run(s_all, null).Single(i => i.Name == "vsock");
        Assert.True(vsock.Ok);
        Assert.StartsWith("hybrid vsock", vsock.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_docker_and_containerd_are_reported_but_optional()
    {
        var items = Run(s_all, null, tools: []);
        Assert.True(HostCheck.CanStartVm(items));
        Assert.False(items.Single(i => i.Name == "docker").Ok);
        Assert.Equal("apt-get install docker.io", items.Single(i => i.Name == "docker").Fix);
    }
}
