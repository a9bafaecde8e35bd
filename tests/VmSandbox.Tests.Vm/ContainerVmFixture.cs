using System.Diagnostics;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// One booted guest shared by the container tests, with a virtio-fs share (tag
/// <see cref="ShareTag"/>) holding a busybox rootfs (tests/fixtures/make-rootfs.sh) at
/// "rootfs" and a bind-mount source directory at "data", and a host listener for stdio streams.
/// </summary>
public sealed class ContainerVmFixture : IAsyncLifetime
{
    public const string ShareTag = "vmsandbox";
    public const uint StdioPort = 5000;
    private readonly string _state = Directory.CreateTempSubdirectory("vmsandbox-ctr-").FullName;
    private SandboxVm? _sandbox;
    private StdioHost? _stdio;

    public SandboxVm Sandbox => _sandbox ?? throw new InvalidOperationException("fixture not initialised");

    public StdioHost Stdio => _stdio ?? throw new InvalidOperationException("fixture not initialised");

    public string ShareDir => Path.Combine(_state, "share");

    public string DataDir => Path.Combine(ShareDir, "data");

    public async ValueTask InitializeAsync()
    {
        TestEnvironment.RequireBuild();
        Directory.CreateDirectory(DataDir);
        var psi = new ProcessStartInfo(Path.Combine(TestEnvironment.RepoRoot, "tests", "fixtures", "make-rootfs.sh"), Path.Combine(ShareDir, "rootfs"));
        using (var p = Process.Start(psi)!)
        {
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }
        var config = new RuntimeConfig
        {
            KernelPath = TestEnvironment.KernelPath,
            InitrdPath = TestEnvironment.InitrdPath,
            StateRoot = _state,
            BootTimeout = TimeSpan.FromSeconds(120),
            MemoryMiB = 512,
        };
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        VmSpec spec = factory.CreateSpec("ctr", Path.Combine(_state, "vm"));
        _sandbox = await factory.BootAsync(spec, [new SharedDir(ShareTag, ShareDir)], CancellationToken.None);
        _stdio = new StdioHost($"{_sandbox.VsockUdsPath}_{StdioPort}");
    }

    public async ValueTask DisposeAsync()
    {
        _stdio?.Dispose();
        if (_sandbox is not null)
        {
            await _sandbox.ShutdownAsync(TimeSpan.FromSeconds(30));
            await _sandbox.DisposeAsync();
            // Keep the guest console for post-mortems: the state directory goes below.
            string console = Path.Combine(_state, "vm", "console.log");
            if (File.Exists(console))
            {
                File.Copy(console, Path.Combine(Path.GetTempPath(), "vmsandbox-ctr-console.log"), overwrite: true);
            }
        }
        Directory.Delete(_state, recursive: true);
    }
}
