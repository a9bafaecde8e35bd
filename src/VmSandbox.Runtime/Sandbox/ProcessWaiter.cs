using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Waits for a guest process's exit as the monitor and the exec relay do: WaitProcess in rounds
/// of <see cref="Round"/> rather than one call without a deadline, and over a new agent
/// connection when the old one fails. The agent keeps the exit status until the container is
/// removed, so asking again is harmless; what it buys is that one lost reply or one broken
/// connection costs a round, not the status (a monitor that gave up reported 255 for a
/// container that had exited 0) or a relay that waits for ever. Only when
/// <see cref="MaxReconnects"/> new connections in a row fail is the guest taken as lost.
/// </summary>
public static class ProcessWaiter
{
    public static readonly TimeSpan Round = TimeSpan.FromSeconds(30);
    public const int MaxReconnects = 3;

    /// <param name="agent">The connection to ask first (the caller keeps owning it).</param>
    /// <param name="runDir">The sandbox's run directory, for new connections.</param>
    /// <param name="sandboxGone">True once the VM (or its monitor) is gone: no use asking again.</param>
    public static async Task<WaitProcessResponse> UntilExitAsync(AgentClient agent, string runDir, string containerId, string execId, Func<bool> sandboxGone, Action<string> log, CancellationToken ct)
    {
        var request = new WaitProcessRequest { ContainerId = containerId, ExecId = execId };
        var options = new TtrpcCallOptions { Timeout = Round };
        AgentConnection? own = null;
        int failures = 0;
        try
        {
            while (true)
            {
                try
                {
                    return await agent.WaitProcessAsync(request, options, ct);
                }
                catch (TtrpcException e) when (e.Status == StatusCode.DeadlineExceeded)
                {
                    failures = 0; // the agent answered, or at least the round ended: ask again
                }
                catch (Exception e) when (IsConnectionFailure(e) && failures < MaxReconnects && !sandboxGone())
                {
                    failures++;
                    log($"wait for {Describe(containerId, execId)}: {VmSandboxException.FormatChain(e)}; asking again on a new connection ({failures}/{MaxReconnects})");
                    await Task.Delay(TimeSpan.FromMilliseconds(250 * failures), ct);
                    if (own is not null)
                    {
                        await own.DisposeAsync();
                        own = null;
                    }
                    // The connect retries for seconds; a sandbox that goes meanwhile ends it at once.
                    using var gone = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    Task watch = WatchGoneAsync(sandboxGone, gone);
                    try
                    {
                        own = await AgentConnection.ConnectAsync(runDir, gone.Token);
                        agent = own.Agent;
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new IOException($"wait for {Describe(containerId, execId)}: the sandbox is gone");
                    }
                    catch (Exception connect) when ((connect is VmSandboxException || IsConnectionFailure(connect)) && failures < MaxReconnects)
                    {
                        log($"wait for {Describe(containerId, execId)}: reconnect: {VmSandboxException.FormatChain(connect)}");
                    }
                    finally
                    {
                        await gone.CancelAsync();
                        await watch;
                    }
                }
            }
        }
        finally
        {
            if (own is not null)
            {
                await own.DisposeAsync();
            }
        }
    }

    private static async Task WatchGoneAsync(Func<bool> sandboxGone, CancellationTokenSource gone)
    {
        while (!gone.IsCancellationRequested)
        {
            if (sandboxGone())
            {
                await gone.CancelAsync();
                return;
            }
            try
            {
                await Task.Delay(100, gone.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A broken transport, not an answer: the agent's own errors (not found, …) are final.</summary>
    private static bool IsConnectionFailure(Exception e) =>
        e is IOException or SocketException or ObjectDisposedException or TtrpcException { Status: StatusCode.Unavailable };

    private static string Describe(string containerId, string execId) =>
        execId.Length == 0 ? $"container {containerId}" : $"exec {execId} in container {containerId}";
}
