using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Hypervisor.Qemu;

public sealed partial class QemuVm
{
    /// <summary>
    /// Stops the VM: asks the guest to power off (Ctrl-Alt-Del reaches the agent as SIGINT) and
    /// waits up to <paramref name="graceful"/>; then QMP "quit"; then SIGKILL. Returns how it ended.
    /// </summary>
    public async Task<StopOutcome> StopAsync(TimeSpan graceful, CancellationToken ct = default)
    {
        if (_process.HasExited)
        {
            return StopOutcome.AlreadyExited;
        }
        if (graceful > TimeSpan.Zero && _qmp is not null)
        {
            try
            {
                await _qmp.SendCtrlAltDeleteAsync(ct);
                if (await WaitExitAsync(graceful))
                {
                    return StopOutcome.GuestPoweredOff;
                }
            }
            catch (VmSandboxException)
            {
                // QEMU is going away or QMP broke: fall through to the harder ways.
            }
        }
        if (_qmp is not null)
        {
            try
            {
                await _qmp.ExecuteAsync("quit", null, ct).WaitAsync(TimeSpan.FromSeconds(2), ct);
            }
            catch (Exception e) when (e is VmSandboxException or TimeoutException or IOException)
            {
                // "quit" often loses its answer to the exit itself.
            }
            if (await WaitExitAsync(TimeSpan.FromSeconds(3)))
            {
                return StopOutcome.Quit;
            }
        }
        _process.Kill(entireProcessTree: true);
        await WaitExitAsync(TimeSpan.FromSeconds(10));
        return StopOutcome.Killed;
    }

    /// <summary>Waits for QEMU to exit on its own (the guest powered off).</summary>
    public async Task<bool> WaitExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return _process.HasExited;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            if (!_process.HasExited)
            {
                await StopAsync(TimeSpan.Zero);
            }
        }
        finally
        {
            if (_qmp is not null)
            {
                await _qmp.DisposeAsync();
            }
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
            _process.Dispose();
            SocketFile.TryRemove(Spec.QmpSocketPath);
        }
    }
}
