using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Hypervisor;
using VmSandbox.Ttrpc;
using VmSandbox.Vsock;

namespace VmSandbox.Runtime;

/// <summary>
/// A booted sandbox: the VM, its vsock device (our vhost-user back-end) and a ttrpc connection
/// to the guest agent over hybrid vsock. Disposing it stops everything and leaves no process,
/// socket or mapping behind. Collaborators: <see cref="SandboxVmFactory"/> creates it;
/// <see cref="AgentClient"/> is the typed API to the agent.
/// </summary>
public sealed class SandboxVm : IAsyncDisposable
{
    private readonly VhostUserVsockBackend _vsock;
    private readonly TtrpcClient _ttrpc;
    private int _disposed;

    internal SandboxVm(IVm vm, VhostUserVsockBackend vsock, string vsockUdsPath, TtrpcClient ttrpc, CheckResponse check)
    {
        Vm = vm;
        _vsock = vsock;
        VsockUdsPath = vsockUdsPath;
        _ttrpc = ttrpc;
        Agent = new AgentClient(ttrpc);
        AgentCheck = check;
    }

    public IVm Vm { get; }

    public AgentClient Agent { get; }

    /// <summary>The agent's answer to the first health check.</summary>
    public CheckResponse AgentCheck { get; }

    /// <summary>The hybrid vsock socket: "CONNECT &lt;port&gt;\n" reaches guest ports.</summary>
    public string VsockUdsPath { get; }

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
                await _vsock.DisposeAsync();
            }
        }
    }
}
