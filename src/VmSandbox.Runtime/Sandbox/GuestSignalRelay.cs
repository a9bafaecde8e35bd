using System.Net.Sockets;
using System.Runtime.InteropServices;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Makes a host process stand in for a guest process: the signals it receives (as the shim
/// delivers `kill` to the PID it was given) go to the guest process, and with a terminal, a
/// window-size change (SIGWINCH) becomes a ResizeTty call with the host terminal's new size.
/// Used by the sandbox monitor (the container's init), the exec relay and foreground `run`/`exec`.
/// </summary>
public sealed class GuestSignalRelay : IDisposable
{
    // HUP INT QUIT USR1 USR2 ALRM TERM; KILL and STOP cannot be caught (the shim's `kill` sends
    // those through the CLI, which asks the agent directly).
    private static readonly int[] s_forwarded = [1, 2, 3, 10, 12, 14, 15];
    private const int SigWinch = 28;
    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(30) };

    private readonly AgentClient _agent;
    private readonly string _containerId;
    private readonly string _execId;
    private readonly SafeFd? _terminal;
    private readonly Action<string> _log;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly SemaphoreSlim _resizeOne = new(1, 1);

    /// <param name="execId">Empty for the container's init.</param>
    /// <param name="terminal">The host terminal whose size the guest terminal follows, or null.</param>
    public GuestSignalRelay(AgentClient agent, string containerId, string execId, SafeFd? terminal, Action<string> log)
    {
        _agent = agent;
        _containerId = containerId;
        _execId = execId;
        _terminal = terminal;
        _log = log;
        foreach (int signal in s_forwarded)
        {
            _registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, ctx =>
            {
                ctx.Cancel = true;
                _ = Task.Run(() => ForwardAsync(signal));
            }));
        }
        if (terminal is not null)
        {
            _registrations.Add(PosixSignalRegistration.Create((PosixSignal)SigWinch, ctx =>
            {
                ctx.Cancel = true;
                _ = Task.Run(ResizeAsync);
            }));
        }
    }

    /// <summary>
    /// Gives the guest terminal the host terminal's current size. Call once after the guest
    /// process exists: a resize that came before the relay was listening is not lost.
    /// </summary>
    public async Task ResizeAsync()
    {
        if (_terminal is null)
        {
            return;
        }
        // Serialised, and the size read inside: the last call always sends the latest size.
        await _resizeOne.WaitAsync();
        try
        {
            TerminalSize size = Pty.GetSize(_terminal);
            if (size.Rows == 0 && size.Columns == 0)
            {
                return; // never set: keep the guest's default
            }
            await _agent.ResizeTtyAsync(new ResizeTtyRequest { ContainerId = _containerId, ExecId = _execId, Rows = size.Rows, Columns = size.Columns }, s_call, CancellationToken.None);
        }
        catch (Exception e) when (e is VmSandboxException or IOException or SocketException or ObjectDisposedException)
        {
            _log($"{Describe()}: resize terminal: {e.Message}");
        }
        finally
        {
            _resizeOne.Release();
        }
    }

    private async Task ForwardAsync(int signal)
    {
        try
        {
            await _agent.SignalProcessAsync(new SignalProcessRequest { ContainerId = _containerId, ExecId = _execId, Signal = (uint)signal }, s_call, CancellationToken.None);
        }
        catch (Exception e) when (e is VmSandboxException or IOException or SocketException or ObjectDisposedException)
        {
            _log($"{Describe()}: forward signal {signal}: {e.Message}");
        }
    }

    private string Describe() => _execId.Length == 0 ? $"container {_containerId}" : $"exec {_execId} in {_containerId}";

    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _registrations)
        {
            r.Dispose();
        }
    }
}
