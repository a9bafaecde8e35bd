using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Agent.Protocol;
using VmSandbox.Agent.Vm;

namespace VmSandbox.Agent.Containers;

/// <summary>A container's init or exec'd process: its pid, stdio and exit status (kept until the container is removed).</summary>
public sealed class ContainerProcess
{
    /// <summary>How long WaitProcess waits for the output streams to drain after the exit.</summary>
    public static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(2);

    private readonly TaskCompletionSource<WaitProcessResponse> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lazy<Task> _synced = new(() => Task.Run(Interop.Reboot.SyncAll));

    public ContainerProcess(string execId, StdioRelay stdio)
    {
        ExecId = execId;
        Stdio = stdio;
    }

    /// <summary>"" for the container's init.</summary>
    public string ExecId { get; }

    public int Pid { get; set; }

    public StdioRelay Stdio { get; }

    /// <summary>The channel to the init until it exec'd.</summary>
    public InitChannel? Channel { get; set; }

    public bool HasExited => _exit.Task.IsCompleted;

    public Task<WaitProcessResponse> Exited => _exit.Task;

    /// <summary>Reaper callback: records the wait status.</summary>
    public void OnExit(int status)
    {
        var (code, signal) = ChildRegistry.Decode(status);
        _exit.TrySetResult(new WaitProcessResponse
        {
            ExitCode = code,
            Signal = (uint)signal,
            ExitedAtUnixNano = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100,
        });
        // Nobody reads the process's stdin any more: end the input thread and its vsock stream
        // now, not when the container is removed (a container with a healthcheck execs forever).
        _ = Task.Run(async () =>
        {
            try
            {
                await Stdio.OutputDone.WaitAsync(OutputDrainTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            Stdio.CloseStdin();
        });
    }

    /// <summary>
    /// The exit status, once the process exited and its output drained (or the drain timed out).
    /// For the container's init, also once the guest's file systems are synced: the host may
    /// stop the VM the moment it has the status (ADR 0004), and pages a process dirtied through a
    /// shared mapping of a virtio-fs file are still only in the guest's page cache.
    /// </summary>
    public async Task<WaitProcessResponse> WaitAsync(CancellationToken cancellationToken)
    {
        WaitProcessResponse response = await _exit.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Stdio.OutputDone.WaitAsync(OutputDrainTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A background child still holds the output open; the status matters more.
        }
        if (ExecId.Length == 0)
        {
            await _synced.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        return response;
    }
}
