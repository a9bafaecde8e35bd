using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>virtio-fs shares: one virtiofsd per share, binds in its private mount namespace.</summary>
public sealed class SharedDirTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("vmsandbox-share-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public async Task Binds_never_show_on_the_host_and_virtiofsd_goes_with_the_vm()
    {
        TestEnvironment.RequireBuild();
        string source = Directory.CreateDirectory(Path.Combine(_state, "rootfs-src")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "hello"), "hi", TestContext.Current.CancellationToken);
        string file = Path.Combine(_state, "hosts");
        await File.WriteAllTextAsync(file, "127.0.0.1 localhost\n", TestContext.Current.CancellationToken);
        string share = Directory.CreateDirectory(Path.Combine(_state, "share")).FullName;
        var config = new RuntimeConfig
        {
            KernelPath = TestEnvironment.KernelPath,
            InitrdPath = TestEnvironment.InitrdPath,
            StateRoot = _state,
            BootTimeout = TimeSpan.FromSeconds(120),
        };
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        VmSpec spec = factory.CreateSpec("share", Path.Combine(_state, "vm"));
        SharedDir[] shares = [new SharedDir("vmsandbox", share) { Binds = [new ShareBind(source, "rootfs"), new ShareBind(file, "m/0")] }];
        string socket = spec.VirtiofsSocketPath(0);
        await using (SandboxVm sandbox = await factory.BootAsync(spec, shares, TestContext.Current.CancellationToken))
        {
            // virtiofsd forks once for its pid-namespace sandbox.
            Assert.NotEmpty(TestEnvironment.ProcessesMatching($"--socket-path={socket}"));
            string mounts = await File.ReadAllTextAsync("/proc/self/mountinfo", TestContext.Current.CancellationToken);
            Assert.DoesNotContain(share, mounts, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(share));
            await sandbox.ShutdownAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        }
        Assert.Empty(TestEnvironment.ProcessesMatching($"--socket-path={socket}"));
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task A_missing_bind_source_fails_the_boot_and_leaves_nothing()
    {
        TestEnvironment.RequireBuild();
        string share = Directory.CreateDirectory(Path.Combine(_state, "share")).FullName;
        var config = new RuntimeConfig
        {
            KernelPath = TestEnvironment.KernelPath,
            InitrdPath = TestEnvironment.InitrdPath,
            StateRoot = _state,
        };
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        VmSpec spec = factory.CreateSpec("share-bad", Path.Combine(_state, "vm"));
        SharedDir[] shares = [new SharedDir("vmsandbox", share) { Binds = [new ShareBind(Path.Combine(_state, "absent"), "m/0")] }];
        var e = await Assert.ThrowsAsync<Common.VmSandboxException>(() => factory.BootAsync(spec, shares, TestContext.Current.CancellationToken));
        Assert.Contains("no such file or directory", Common.VmSandboxException.FormatChain(e), StringComparison.Ordinal);
        Assert.Empty(TestEnvironment.ProcessesMatching("vmsandbox-share-bad,"));
        Assert.Empty(TestEnvironment.ProcessesMatching(spec.VirtiofsSocketPath(0)));
    }
}
