using System.Net.Sockets;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Oci;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Stdio;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The sandbox monitor: one detached host process per container, started by `create`. It owns
/// the VM (QEMU, virtiofsd, the vsock device), asks the agent to create the container, tells
/// `create` the outcome through a one-shot report socket, relays the container's stdio from the
/// descriptors it inherited (or a host pty), forwards the signals it receives to the container,
/// and exits with the container's exit status (128+signal when killed), so that whoever reaps it
/// (containerd-shim-runc-v2 as subreaper, or `run`) sees the container's status.
/// Collaborators: <see cref="SandboxVmFactory"/>, <see cref="SandboxPlan"/>, <see cref="ProcessIo"/>,
/// <see cref="MonitorLaunch"/> (what `create` validated; the monitor records only the exit status).
/// </summary>
public sealed class SandboxMonitor
{
    /// <summary>Exit status when the VM died under the container (no status from the guest).</summary>
    public const int VmLostExitCode = 255;

    /// <summary>Exit status of a container killed together with its VM (<see cref="MonitorControl.KillVm"/>): 128+SIGKILL, as runc's.</summary>
    public const int KilledExitCode = 137;

    /// <summary>Empty PCIe root ports for NICs of interfaces that appear after boot (Docker wires them in a prestart hook).</summary>
    public const int NetworkHotplugSlots = 2;

    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(60) };

    private readonly MonitorLaunch _launch;
    private readonly string _id;
    private readonly RuntimeConfig _config;
    private readonly string _reportSocket;
    private readonly string? _ttyPath;
    private readonly Action<string> _log;

    public SandboxMonitor(MonitorLaunch launch, RuntimeConfig config, string reportSocket, string? ttyPath, Action<string> log)
    {
        _launch = launch;
        _id = launch.Id;
        _config = config;
        _reportSocket = reportSocket;
        _ttyPath = ttyPath;
        _log = log;
    }

    public async Task<int> RunAsync(CancellationToken ct)
    {
        MonitoredVm? vm = null;
        ProcessIo? io = null;
        Interop.SafeFd? tty = null;
        bool reported = false;
        try
        {
            // Before QEMU and virtiofsd exist, so that they are born in it.
            HostCgroup.Join(_launch.HostCgroups, Environment.ProcessId);
            LoadedSpec loaded = _launch.Spec;
            HostCgroup.SetCpuset(_launch.HostCgroups, loaded.Spec.Linux?.Resources?.Cpu?.Cpus, loaded.Spec.Linux?.Resources?.Cpu?.Mems);
            string shareDir = Directory.CreateDirectory(Path.Combine(_launch.RunDir, "share")).FullName;
            SandboxPlan plan = SandboxPlan.Create(loaded, _config, shareDir, p => File.Exists(p) || Directory.Exists(p), File.ReadLines(MonitoredVm.HostMountInfo), isFile: FileBindLayout.IsFileWithoutSymlinks,
                podCgroup: () => PodCgroupLimits.Read(_launch.HostCgroups, PodCgroupLimits.ReadFile));
            // The monitor lives in the container's network namespace (MonitorProcess entered it).
            // Hooks that run during create (Docker's libnetwork-setkey is a prestart hook) may wire
            // it: once the namespace is read for the boot's NICs, the CLI is told, and runs them
            // while the VM boots (ADR 0016). The namespace is then mirrored at `start`, not here,
            // so that no interface is copied half-wired.
            bool wiredLater = WiredByHooks(loaded.Spec);
            vm = await MonitoredVm.BootAsync(_config, _id, _launch.RunDir, plan.Share, plan.MemoryMiB, plan.Vcpus, wiredLater, _log, ct,
                wiredLater ? () => ReportAsync(new MonitorReport { NamespaceReady = true }) : null);
            vm.Container = loaded;
            vm.LoadMember = _launch.LoadMember;
            SandboxVm sandbox = vm.Sandbox;
            long phase = Environment.TickCount64;
            if (!wiredLater)
            {
                await vm.SyncNetworkAsync(ct);
                PhaseLog.Mark(_config.PhaseLogPath, _id, "network-synced");
            }
            vm.StartControl(_launch.RunDir);

            bool terminal = loaded.Spec.Process?.Terminal ?? false;
            if (_ttyPath is not null)
            {
                tty = Terminal.ConsolePty.OpenControllingPeer(_ttyPath, _log);
            }
            io = ProcessIo.ForHelper(sandbox.VsockUdsPath!, tty, terminal, releaseAtEof: true);
            var request = new CreateContainerRequest
            {
                ContainerId = _id,
                OciSpec = ByteString.CopyFrom(loaded.Json.Span),
                Rootfs = plan.Rootfs,
                Bundle = loaded.BundlePath,
                Stdio = io.Describe(),
                Terminal = terminal,
            };
            request.SharedMounts.AddRange(plan.SharedMounts);
            PhaseLog.Mark(_config.PhaseLogPath, _id, "create-sent");
            CreateContainerResponse created = await sandbox.Agent.CreateContainerAsync(request, s_call, ct);
            PhaseLog.Mark(_config.PhaseLogPath, _id, "guest-created");
            AgentClient agent = sandbox.Agent;
            await io.StartAsync(bytes => agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = _id, StdinBytes = bytes }, s_call, CancellationToken.None), ct);

            await ReportAsync(new MonitorReport { GuestPid = GuestPid.From(created.Pid, $"create {_id}") });
            reported = true;
            _log($"container {_id}: created, guest pid {created.Pid}, {Environment.TickCount64 - phase} ms after the vm was ready");

            using var signals = new GuestSignalRelay(agent, _id, "", tty, _log);
            await signals.ResizeAsync();
            int code;
            // A VM that ends under the container (QEMU killed, a guest panic) ends the wait at
            // once: its vsock connections would take seconds to notice.
            using var vmGone = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _ = CancelWhenExitedAsync(sandbox.Vm, vmGone);
            try
            {
                WaitProcessResponse exit = await ProcessWaiter.UntilExitAsync(agent, _launch.RunDir, _id, "", () => sandbox.Vm.HasExited, _log, vmGone.Token);
                code = exit.ExitCode;
                if (exit.Signal == 9)
                {
                    await OomForwarder.ForwardIfOomKilledAsync(agent, _id, _log);
                }
            }
            catch (Exception e) when (e is VmSandboxException or IOException or SocketException or TtrpcException { Status: StatusCode.Unavailable }
                || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                // One line that names what happened: the status alone (255) cannot.
                code = vm.KilledOnRequest ? KilledExitCode : VmLostExitCode;
                _log($"container {_id}: the vm ended under the container: {LostReason(vm, e)}");
            }
            // Recorded first: from here `state` says stopped (runc's does once the init is gone),
            // while the output drains and the VM goes, which takes seconds on a loaded host.
            try
            {
                _launch.RecordExit(code);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full state directory must not turn the container's status into the monitor's failure.
                _log($"container {_id}: record exit status {code}: {e.Message}");
            }
            PhaseLog.Mark(_config.PhaseLogPath, _id, "exited");
            _log($"container {_id}: exited with status {code}");
            await io.DrainAsync();
            // Whoever reaps this process (Docker's shim) learns the exit only when it ends, so the
            // VM goes at once: the agent synced the guest's file systems before it reported the
            // exit, and nothing else in the guest outlives the container (ADR 0004).
            long exited = Environment.TickCount64;
            StopOutcome outcome = await sandbox.Vm.StopAsync(TimeSpan.Zero, CancellationToken.None);
            PhaseLog.Mark(_config.PhaseLogPath, _id, "vm-gone");
            _log($"container {_id}: vm stopped ({outcome}) in {Environment.TickCount64 - exited} ms");
            return code;
        }
        catch (Exception e)
        {
            _log($"container {_id}: {VmSandboxException.FormatChain(e)}");
            if (!reported)
            {
                await ReportAsync(MonitorReport.Failed(e));
            }
            return ExitCodes.Failure;
        }
        finally
        {
            io?.Dispose();
            if (vm is not null)
            {
                await vm.DisposeAsync();
            }
            tty?.Dispose();
        }
    }

    /// <summary>How often a started container's namespace is checked for interfaces added later.</summary>
    public static readonly TimeSpan NetworkWatchInterval = TimeSpan.FromSeconds(1);

    /// <summary>First host vsock port of the DNS forwarders, one per loopback name server.</summary>
    public const uint DnsRelayPortBase = 5300;

    /// <summary>Tells `create` that the monitor failed before it could boot anything.</summary>
    public static async Task<int> ReportFailureAsync(string reportSocket, Exception e, Action<string> log)
    {
        await MonitorReport.SendAsync(reportSocket, MonitorReport.Failed(e), log);
        return ExitCodes.Failure;
    }

    private static async Task CancelWhenExitedAsync(IVm vm, CancellationTokenSource gone)
    {
        if (await vm.WaitExitAsync(Timeout.InfiniteTimeSpan))
        {
            try
            {
                await gone.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // the wait ended first
            }
        }
    }

    /// <summary>Why the guest was lost: a kill on request, a share daemon gone, QEMU's exit and the guest's last words, or the agent's silence.</summary>
    private static string LostReason(MonitoredVm vm, Exception e)
    {
        if (vm.KilledOnRequest)
        {
            return "killed with its vm on request (kill -9 of a guest whose agent did not answer)";
        }
        if (vm.ShareLost is { } share)
        {
            return share;
        }
        IVm qemu = vm.Sandbox.Vm;
        if (qemu.HasExited)
        {
            string words = GuestLastWords.Read(qemu.ConsoleLogPath) is { } w ? $" after {w}" : "";
            return qemu.ExitError().Message + words;
        }
        return $"the agent stopped answering: {VmSandboxException.FormatChain(e)}";
    }

    /// <summary>Whether hooks that run during create (prestart, createRuntime) may wire the network namespace: Docker's do.</summary>
    public static bool WiredByHooks(Oci.Spec.RuntimeSpec spec) =>
        spec.Hooks is { } hooks && (hooks.Prestart?.Count > 0 || hooks.CreateRuntime?.Count > 0);

    private Task ReportAsync(MonitorReport report) => MonitorReport.SendAsync(_reportSocket, report, _log);
}
