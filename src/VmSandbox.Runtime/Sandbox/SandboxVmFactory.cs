using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Hypervisor.Virtiofs;
using VmSandbox.Oci;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Vsock;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Turns the runtime configuration into a <see cref="VmSpec"/> and boots a <see cref="SandboxVm"/>:
/// chooses the accelerator (KVM or TCG with one warning line), starts our vsock device
/// (hybrid vsock, ADR 0005), QEMU, waits for the agent's readiness line and connects to its API over hybrid vsock.
/// </summary>
public sealed class SandboxVmFactory
{
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

    public VmSpec CreateSpec(string id, string stateDir)
    {
        ContainerIdValidator.Validate(id);
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
            HostTscKhz = accel == Accelerator.Tcg ? HostTsc.ReadKhz() : 0,
            TcgCacheMiB = _config.TcgCacheMiB,
        };
        return spec;
    }

    /// <summary>Boots the sandbox without shared directories; on any failure nothing is left running.</summary>
    public Task<SandboxVm> BootAsync(VmSpec spec, CancellationToken ct) => BootAsync(spec, [], ct);

    /// <summary>
    /// Boots the sandbox with one virtiofsd per entry of <paramref name="shares"/> (each becomes a
    /// <see cref="VirtiofsDevice"/>); on any failure nothing is left running.
    /// </summary>
    public async Task<SandboxVm> BootAsync(VmSpec spec, IReadOnlyList<SharedDir> shares, CancellationToken ct)
    {
        try
        {
            return await BootOnceAsync(spec, shares, ct);
        }
        catch (VmSandboxException e) when (e.InnerException is GuestKernelCrashException crash)
        {
            // A rare guest kernel crash while booting under TCG (ADR 0016): nothing of the first
            // boot is left, so boot once more, and say what happened.
            _warn($"sandbox {spec.Id}: the guest kernel crashed while booting, booting again: {crash.Message}");
            return await BootOnceAsync(spec, shares, ct);
        }
    }

    private async Task<SandboxVm> BootOnceAsync(VmSpec spec, IReadOnlyList<SharedDir> shares, CancellationToken ct)
    {
        Directory.CreateDirectory(spec.StateDir);
        HybridVsockTransport? vsock = null;
        var daemons = new List<VirtiofsDaemon>();
        IVm? vm = null;
        TtrpcClient? ttrpc = null;
        try
        {
            vsock = HybridVsockTransport.Start(spec.StateDir);
            var devices = new List<VmDevice>(spec.Devices) { vsock.Device, new BalloonDevice() };
            for (int i = 0; i < shares.Count; i++)
            {
                VirtiofsDaemon daemon = await VirtiofsDaemon.StartAsync(_config.VirtiofsdPath, shares[i], spec.VirtiofsSocketPath(i), ct);
                daemons.Add(daemon);
                devices.Add(daemon.Device(i));
            }
            vm = await _hypervisor.StartAsync(spec with { Devices = devices }, ct);
            (AgentReadiness ready, BootTimings timings) = await AgentReadinessWatcher.WaitAsync(vm, _config.BootTimeout, ct);
            Stream stream = await vsock.ConnectAsync(AgentApi.VsockPort, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30), ct);
            ttrpc = new TtrpcClient(stream);
            CheckResponse check = await new AgentClient(ttrpc).CheckAsync(new CheckRequest(), new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(30) }, ct);
            if (check.ApiVersion != AgentApi.ApiVersion)
            {
                throw new VmSandboxException(ErrorCode.Protocol,
                    $"guest agent speaks api version {check.ApiVersion}, this runtime needs {AgentApi.ApiVersion}")
                { Hint = "make install (guest image and CLI of one build)" };
            }
            return new SandboxVm(vm, vsock, ttrpc, check, daemons, ready, timings);
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
            foreach (VirtiofsDaemon daemon in daemons)
            {
                await daemon.DisposeAsync();
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
