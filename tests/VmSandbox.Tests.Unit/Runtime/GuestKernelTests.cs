using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class GuestKernelTests
{
    private static Func<string, bool> Present(params string[] files) => p => files.Contains(Path.GetFileName(p));

    private static readonly Func<string, bool> s_both = Present("vmlinuz", "initramfs.img", "vmlinux-minimal", "initramfs-minimal.img");

    [Theory]
    [InlineData(null, "/g/vmlinux-minimal", "/g/initramfs-minimal.img", GuestKernelKind.Minimal)]
    [InlineData("auto", "/g/vmlinux-minimal", "/g/initramfs-minimal.img", GuestKernelKind.Minimal)]
    [InlineData("AUTO", "/g/vmlinux-minimal", "/g/initramfs-minimal.img", GuestKernelKind.Minimal)]
    [InlineData("minimal", "/g/vmlinux-minimal", "/g/initramfs-minimal.img", GuestKernelKind.Minimal)]
    [InlineData("debian", "/g/vmlinuz", "/g/initramfs.img", GuestKernelKind.Debian)]
    [InlineData("Debian", "/g/vmlinuz", "/g/initramfs.img", GuestKernelKind.Debian)]
    [InlineData("/opt/k/bzImage", "/opt/k/bzImage", "/g/initramfs.img", GuestKernelKind.Custom)]
    public void Picks_by_setting_when_both_kernels_are_built(string? setting, string kernel, string initrd, GuestKernelKind kind)
    {
        Assert.Equal((kernel, initrd, kind), GuestKernel.Select(setting, null, "/g", s_both));
    }

    [Theory]
    [InlineData("vmlinuz", "initramfs.img")]
    [InlineData("vmlinuz", "initramfs.img", "vmlinux-minimal")]
    [InlineData("vmlinuz", "initramfs.img", "initramfs-minimal.img")]
    public void Auto_falls_back_to_debian_unless_the_whole_minimal_pair_is_there(params string[] files)
    {
        Assert.Equal(("/g/vmlinuz", "/g/initramfs.img", GuestKernelKind.Debian), GuestKernel.Select(null, null, "/g", Present(files)));
    }

    [Fact]
    public void Minimal_is_chosen_even_when_missing_so_that_the_boot_names_the_file()
    {
        Assert.Equal(("/g/vmlinux-minimal", "/g/initramfs-minimal.img", GuestKernelKind.Minimal),
            GuestKernel.Select("minimal", null, "/g", Present("vmlinuz", "initramfs.img")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("debian")]
    [InlineData("/k")]
    public void Initrd_setting_wins_over_the_pick(string? kernel)
    {
        Assert.Equal("/i.img", GuestKernel.Select(kernel, "/i.img", "/g", s_both).Initrd);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("vmlinuz")]
    public void A_word_that_is_no_kind_and_no_path_is_a_config_error(string setting)
    {
        var e = Assert.Throws<VmSandboxException>(() => GuestKernel.Select(setting, null, "/g", s_both));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Contains($"guest.kernel \"{setting}\"", e.Message, StringComparison.Ordinal);
    }
}
