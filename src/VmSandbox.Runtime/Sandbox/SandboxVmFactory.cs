using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using VmSandbox.Ttrpc;
using VmSandbox.Vsock;
using VmSandbox.Vsock.Hybrid;

namespace VmSandbox.Runtime;

/// <summary>
/// Turns the runtime configuration into a <see cref="VmSpec"/> and boots a <see cref="SandboxVm"/>:
/// chooses the accelerator (KVM or TCG with one warning line), starts our vhost-user vsock device,
/// QEMU, waits for the agent's readiness line and connects to its API over hybrid vsock.
/// </summary>
public sealed class SandboxVmFactory
{
    /// <summary>Each VM has its own vsock device, so every guest can use the first non-reserved CID.</summary>
    public const ulong GuestCid = 3;

    /// <summary>sun_path is 108 bytes including the NUL.</summary>
    private const int MaxSocketPath = 107;

    private readonly RuntimeConfig _config;
    private readonly AccelDetector _accel;
    private readonly IHypervisor _hypervisor;
    private readonly Action<string> _warn;

    public SandboxVmFactory(RuntimeConfig config, AccelDetector accel, IHypervisor hypervisor, Action<string> warn)
    {
        _config = config;
        _accel = accel;
        _hypervisor = hypervisor;
        _warn = warn;
    }

    public static string VhostSocketPath(VmSpec spec) => Path.Combine(spec.StateDir, "vhost-vsock.sock");

    public static string VsockUdsPath(VmSpec spec) => Path.Combine(spec.StateDir, "vsock.sock");

    public VmSpec CreateSpec(string id, string stateDir)
    {
        IdValidator.Validate(id);
        // The longest socket we create is "<uds>_<port>" for guest → host connections.
        string longest = Path.Combine(stateDir, "vsock.sock_4294967295");
        if (longest.Length > MaxSocketPath)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                $"state directory {stateDir} is too long for unix socket paths ({longest.Length} > {MaxSocketPath} bytes)")
            {
                Hint = "use a shorter --root or stateRoot",
            };
        }
        (Accelerator accel, string? warning) = _accel.Choose(_config.Accel);
        if (warning is not null)
        {
            _warn(warning);
        }
        var spec = new VmSpec
        {
            Id = id,
            QemuPath = _config.QemuPath,
            KernelPath = _config.KernelPath,
            InitrdPath = _config.InitrdPath,
            StateDir = stateDir,
            Accel = accel,
            Machine = _config.Machine,
            MemoryMiB = _config.MemoryMiB,
            Vcpus = _config.Vcpus,
            ExtraKernelParams = _config.KernelParams,
        };
        return spec with
        {
            ExtraArgs = [.. spec.ExtraArgs, "-chardev", $"socket,id=vsock,path={VhostSocketPath(spec)}", "-device", "vhost-user-vsock-pci,chardev=vsock"],
        };
    }

    /// <summary>Boots the sandbox; on any failure nothing is left running.</summary>
    public async Task<SandboxVm> BootAsync(VmSpec spec, CancellationToken ct)
    {
        Directory.CreateDirectory(spec.StateDir);
        VhostUserVsockBackend? vsock = null;
        IVm? vm = null;
        TtrpcClient? ttrpc = null;
        try
        {
            // The back-end must listen before QEMU starts: QEMU connects while realizing the device.
            vsock = VhostUserVsockBackend.Start(new VsockBackendOptions
            {
                SocketPath = VhostSocketPath(spec),
                UdsPath = VsockUdsPath(spec),
                GuestCid = GuestCid,
            });
            vm = await _hypervisor.StartAsync(spec, ct);
            await vm.WaitForAgentAsync(_config.BootTimeout, ct);
            var socket = await HybridVsockConnector.ConnectAsync(VsockUdsPath(spec), AgentApi.VsockPort,
                DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30), ct);
            ttrpc = new TtrpcClient(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true));
            CheckResponse check = await new AgentClient(ttrpc).CheckAsync(new CheckRequest(), new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(30) }, ct);
            if (check.ApiVersion != AgentApi.ApiVersion)
            {
                throw new VmSandboxException(ErrorCode.Protocol,
                    $"guest agent speaks api version {check.ApiVersion}, this runtime needs {AgentApi.ApiVersion}") { Hint = "make install (guest image and CLI of one build)" };
            }
            return new SandboxVm(vm, vsock, VsockUdsPath(spec), ttrpc, check);
        }
        catch (Exception e)
        {
            if (ttrpc is not null)
            {
                await ttrpc.DisposeAsync();
            }
            if (vm is not null)
            {
                await vm.DisposeAsync();
            }
            if (vsock is not null)
            {
                await vsock.DisposeAsync();
            }
            throw new VmSandboxException(VmSandboxException.CodeOf(e) is ErrorCode.Internal ? ErrorCode.Vm : VmSandboxException.CodeOf(e),
                $"boot sandbox {spec.Id}", e);
        }
    }
}
