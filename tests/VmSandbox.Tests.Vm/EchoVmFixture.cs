using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>One booted guest with the agent's echo service on <see cref="EchoPort"/>, shared by the vsock tests.</summary>
public sealed class EchoVmFixture : IAsyncLifetime
{
    public const uint EchoPort = 1025;
    private readonly string _state = Directory.CreateTempSubdirectory("vmsandbox-echo-").FullName;
    private SandboxVm? _sandbox;

    public SandboxVm Sandbox => _sandbox ?? throw new InvalidOperationException("fixture not initialised");

    public async ValueTask InitializeAsync()
    {
        TestEnvironment.RequireBuild();
        var config = new RuntimeConfig
        {
            KernelPath = TestEnvironment.KernelPath,
            InitrdPath = TestEnvironment.InitrdPath,
            StateRoot = _state,
            BootTimeout = TimeSpan.FromSeconds(120),
            MemoryMiB = 512,
            KernelParams = $"vmsandbox.echo_port={EchoPort}",
        };
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        VmSpec spec = factory.CreateSpec("echo", Path.Combine(_state, "echo"));
        _sandbox = await factory.BootAsync(spec, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (_sandbox is not null)
        {
            await _sandbox.ShutdownAsync(TimeSpan.FromSeconds(30));
            await _sandbox.DisposeAsync();
        }
        Directory.Delete(_state, recursive: true);
    }
}
