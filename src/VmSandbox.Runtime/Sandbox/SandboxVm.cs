using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Hypervisor.Virtiofs;
using VmSandbox.Runtime.Vsock;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A booted sandbox: the VM, its vsock transport (our vhost-user device, hybrid vsock) and a
/// ttrpc connection to the guest agent. Disposing it stops everything and leaves no process,
/// socket or mapping behind. Collaborators: <see cref="SandboxVmFactory"/> creates it;
/// <see cref="AgentClient"/> is the typed API to the agent.
/// </summary>
public sealed class SandboxVm : IAsyncDisposable
{
    private readonly TtrpcClient _ttrpc;
    private readonly IReadOnlyList<VirtiofsDaemon> _shares;
    private int _disposed;

    internal SandboxVm(IVm vm, HybridVsockTransport vsock, TtrpcClient ttrpc, CheckResponse check, IReadOnlyList<VirtiofsDaemon> shares, AgentReadiness readiness, BootTimings timings)
    {
        _shares = shares;
        Readiness = readiness;
        Timings = timings;
        Vm = vm;
        Vsock = vsock;
        _ttrpc = ttrpc;
        Agent = new AgentClient(ttrpc);
        AgentCheck = check;
    }

    public IVm Vm { get; }

    /// <summary>The virtiofsd serving share <paramref name="index"/> (a pod member's files go into its mount namespace).</summary>
    public int ShareDaemonPid(int index = 0) => _shares[index].Pid;

    /// <summary>The agent's readiness line, as it announced itself on the console.</summary>
    public AgentReadiness Readiness { get; }

    /// <summary>Where the boot spent its time.</summary>
    public BootTimings Timings { get; }

    public AgentClient Agent { get; }

    /// <summary>The agent's answer to the first health check.</summary>
    public CheckResponse AgentCheck { get; }

    /// <summary>How the host reaches guest vsock ports.</summary>
    public HybridVsockTransport Vsock { get; }

    /// <summary>The hybrid vsock socket ("CONNECT &lt;port&gt;\n").</summary>
    public string VsockUdsPath => Vsock.UdsPath;

    /// <summary>
    /// Stops the sandbox: the agent's Shutdown RPC first (it syncs and powers off), then the
    /// hypervisor's own ways (Ctrl-Alt-Del, QMP quit, SIGKILL) if the guest does not go.
    /// </summary>
    public async Task<StopOutcome> ShutdownAsync(TimeSpan graceful, CancellationToken ct = default)
    {
        if (Vm.HasExited)
        {
            return StopOutcome.AlreadyExited;
        }
        try
        {
            await Agent.ShutdownAsync(new ShutdownRequest(), new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(5) }, ct);
        }
        catch (Exception e) when (e is VmSandboxException or IOException or SocketException)
        {
            // The reply races the power-off; a lost answer is expected.
        }
        if (await Vm.WaitExitAsync(graceful))
        {
            return StopOutcome.GuestPoweredOff;
        }
        return await Vm.StopAsync(TimeSpan.Zero, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await _ttrpc.DisposeAsync();
        }
        finally
        {
            try
            {
                await Vm.DisposeAsync();
            }
            finally
            {
                // virtiofsd exits by itself once QEMU is gone; kill whatever is left.
                foreach (VirtiofsDaemon share in _shares)
                {
                    await share.DisposeAsync();
                }
                await Vsock.DisposeAsync();
            }
        }
    }
}
