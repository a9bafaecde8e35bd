using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class RuntimeConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteConfig(string json)
    {
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    private RuntimeConfig Load(params (string Key, string Value)[] env) =>
        RuntimeConfigLoader.Load(env.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value)), _dir);

    [Fact]
    public void Defaults_apply_without_file_or_environment()
    {
        // The default /etc/vmsandbox/config.json may exist on a developer machine; point elsewhere.
        RuntimeConfig c = Load(("VMSANDBOX_CONFIG", WriteConfig("{}")));
        Assert.Equal(AccelMode.Auto, c.Accel);
        Assert.Equal(256, c.MemoryMiB);
        Assert.Equal(1, c.Vcpus);
        Assert.Equal("/usr/bin/qemu-system-x86_64", c.QemuPath);
        Assert.Contains("vmlinuz", c.KernelPath, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, "debian", GuestKernelKind.Debian, "vmlinuz", "initramfs.img")]
    [InlineData(true, "debian", GuestKernelKind.Debian, "vmlinuz", "initramfs.img")]
    [InlineData(true, "", GuestKernelKind.Minimal, "vmlinux-minimal", "initramfs-minimal.img")]
    [InlineData(false, "", GuestKernelKind.Debian, "vmlinuz", "initramfs.img")]
    [InlineData(true, "minimal", GuestKernelKind.Minimal, "vmlinux-minimal", "initramfs-minimal.img")]
    public void Guest_kernel_environment_picks_the_kernel_in_the_guest_dir(bool minimalBuilt, string setting, GuestKernelKind kind, string kernel, string initrd)
    {
        string guest = Directory.CreateDirectory(Path.Combine(_dir, "guest")).FullName;
        foreach (string f in minimalBuilt ? ["vmlinuz", "initramfs.img", "vmlinux-minimal", "initramfs-minimal.img"] : (string[])["vmlinuz", "initramfs.img"])
        {
            File.WriteAllText(Path.Combine(guest, f), "");
        }
        RuntimeConfig c = Load(("VMSANDBOX_CONFIG", WriteConfig("{}")), ("VMSANDBOX_GUEST__DIR", guest), ("VMSANDBOX_GUEST__KERNEL", setting));
        Assert.Equal(kind, c.KernelKind);
        Assert.Equal(Path.Combine(guest, kernel), c.KernelPath);
        Assert.Equal(Path.Combine(guest, initrd), c.InitrdPath);
    }

    [Fact]
    public void The_phase_log_is_off_unless_set_in_the_file_or_the_environment()
    {
        Assert.Null(Load(("VMSANDBOX_CONFIG", WriteConfig("{}"))).PhaseLogPath);
        Assert.Equal("/tmp/p.log", Load(("VMSANDBOX_CONFIG", WriteConfig("""{ "diagnostics": { "phaseLog": "/tmp/p.log" } }"""))).PhaseLogPath);
        Assert.Equal("/run/q.log", Load(("VMSANDBOX_CONFIG", WriteConfig("{}")), ("VMSANDBOX_DIAGNOSTICS__PHASELOG", "/run/q.log")).PhaseLogPath);
    }

    [Fact]
    public void The_warm_pool_is_off_unless_pool_size_is_set()
    {
        Assert.Equal(0, Load(("VMSANDBOX_CONFIG", WriteConfig("{}"))).PoolSize);
        Assert.Equal(3, Load(("VMSANDBOX_CONFIG", WriteConfig("""{ "pool": { "size": 3 } }"""))).PoolSize);
        var e = Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", WriteConfig("""{ "pool": { "size": -1 } }"""))));
        Assert.Contains("pool.size \"-1\" is not a whole number in 0..64", VmSandboxException.FormatChain(e), StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_path_in_the_file_keeps_working_with_the_debian_initrd()
    {
        RuntimeConfig c = Load(("VMSANDBOX_CONFIG", WriteConfig("""{ "guest": { "dir": "/g", "kernel": "/k/bzImage" } }""")));
        Assert.Equal("/k/bzImage", c.KernelPath);
        Assert.Equal("/g/initramfs.img", c.InitrdPath);
        Assert.Equal(GuestKernelKind.Custom, c.KernelKind);
    }

    [Fact]
    public void An_unknown_kernel_word_is_a_config_error()
    {
        var e = Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", WriteConfig("{}")), ("VMSANDBOX_GUEST__KERNEL", "tiny")));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Contains("guest.kernel \"tiny\"", VmSandboxException.FormatChain(e), StringComparison.Ordinal);
    }

    [Fact]
    public void File_values_override_defaults()
    {
        string path = WriteConfig("""
            { "hypervisor": { "accel": "tcg", "memory": "1G", "vcpus": 2, "path": "/opt/qemu" },
              "guest": { "dir": "/g" }, "stateRoot": "/tmp/s" }
            """);
        RuntimeConfig c = Load(("VMSANDBOX_CONFIG", path));
        Assert.Equal(AccelMode.Tcg, c.Accel);
        Assert.Equal(1024, c.MemoryMiB);
        Assert.Equal(2, c.Vcpus);
        Assert.Equal("/opt/qemu", c.QemuPath);
        Assert.Equal("/g/vmlinuz", c.KernelPath);
        Assert.Equal("/g/initramfs.img", c.InitrdPath);
        Assert.Equal("/tmp/s", c.StateRoot);
        Assert.Equal(path, c.Source);
    }

    [Fact]
    public void Environment_overrides_the_file()
    {
        string path = WriteConfig("""{ "hypervisor": { "accel": "tcg", "memory": "512M" } }""");
        RuntimeConfig c = Load(("VMSANDBOX_CONFIG", path), ("VMSANDBOX_HYPERVISOR__ACCEL", "kvm"), ("OTHER_HYPERVISOR__MEMORY", "2G"));
        Assert.Equal(AccelMode.Kvm, c.Accel);
        Assert.Equal(512, c.MemoryMiB);
    }

    [Fact]
    public void Keys_are_case_insensitive()
    {
        RuntimeConfig c = Load(("VMSANDBOX_CONFIG", WriteConfig("""{ "Hypervisor": { "Memory": "128M" } }""")));
        Assert.Equal(128, c.MemoryMiB);
    }

    [Theory]
    [InlineData("{ \"hypervisor\": ")]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    public void Malformed_json_is_a_config_error_naming_the_file(string json)
    {
        string path = WriteConfig(json);
        var e = Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", path)));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Contains(path, VmSandboxException.FormatChain(e), StringComparison.Ordinal);
    }

    [Fact]
    public void A_named_file_that_is_missing_or_a_directory_is_an_error()
    {
        Assert.Equal(ErrorCode.Config, Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", Path.Combine(_dir, "nope.json")))).Code);
        Assert.Equal(ErrorCode.Config, Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", _dir))).Code);
    }

    [Theory]
    [InlineData("hypervisor:memory", "lots")]
    [InlineData("hypervisor:memory", "12M")]
    [InlineData("hypervisor:memory", "-1")]
    [InlineData("hypervisor:vcpus", "0")]
    [InlineData("hypervisor:vcpus", "two")]
    [InlineData("hypervisor:accel", "hvf")]
    [InlineData("hypervisor:bootTimeoutSeconds", "0")]
    public void Invalid_values_are_config_errors(string key, string value)
    {
        string[] parts = key.Split(':');
        string json = $$"""{ "{{parts[0]}}": { "{{parts[1]}}": "{{value}}" } }""";
        var e = Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", WriteConfig(json))));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Contains(value, VmSandboxException.FormatChain(e), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("hybrid")]
    [InlineData("Hybrid")]
    public void An_old_vsock_transport_that_names_hybrid_still_loads(string value) =>
        Assert.Equal(256, Load(("VMSANDBOX_CONFIG", WriteConfig($$"""{ "vsock": { "transport": "{{value}}" } }"""))).MemoryMiB);

    [Fact]
    public void A_kernel_vsock_transport_is_one_clear_config_error()
    {
        string path = WriteConfig("""{ "vsock": { "transport": "kernel" } }""");
        var e = Assert.Throws<VmSandboxException>(() => Load(("VMSANDBOX_CONFIG", path)));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Equal($"config {path}: vsock.transport \"kernel\" is not supported: hybrid vsock is the only transport (fix: remove vsock.transport)", VmSandboxException.FormatChain(e));
    }
}
