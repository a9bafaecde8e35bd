using System.Net.Sockets;
using System.Text.Json;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A one-shot Unix socket on which a helper process we started (the sandbox monitor, an exec
/// relay) reports one <see cref="MonitorReport"/> line: ready, or why not; a monitor may send an
/// interim one first (<see cref="MonitorReport.NamespaceReady"/>), on a connection of its own.
/// </summary>
public sealed class ReportChannel : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

    public ReportChannel(string path)
    {
        Path = path;
        try
        {
            SocketFile.Bind(_listener, path);
            _listener.Listen(1);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>
    /// The helper's final report. An interim <see cref="MonitorReport.NamespaceReady"/> calls
    /// <paramref name="namespaceReady"/> (without one, the report's wait goes on); what it throws
    /// ends the wait. Its time does not count against <paramref name="timeout"/>.
    /// </summary>
    public MonitorReport Await(Containers.IHelperProcess monitor, TimeSpan timeout, string what, Action? namespaceReady = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            MonitorReport report = ReadOne(monitor, timeout, what, cts);
            if (!report.NamespaceReady)
            {
                return report;
            }
            TimeSpan left = timeout - waited.Elapsed;
            cts.CancelAfter(Timeout.InfiniteTimeSpan);
            namespaceReady?.Invoke();
            cts.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            report = ReadOne(monitor, timeout, what, cts);
            return report.NamespaceReady
                ? throw new VmSandboxException(ErrorCode.Protocol, $"{what} sent a second interim report")
                : report;
        }
        finally
        {
            cts.Cancel(); // ends the wait for the helper's exit (a thread of its own for an unreaped helper)
        }
    }

    private MonitorReport ReadOne(Containers.IHelperProcess monitor, TimeSpan timeout, string what, CancellationTokenSource cts)
    {
        Task<Socket> accept = _listener.AcceptAsync(cts.Token).AsTask();
        Task exited = monitor.WaitForExitAsync(cts.Token);
        Task.WaitAny([accept, exited], CancellationToken.None);
        if (!accept.IsCompleted && monitor.HasExited)
        {
            // A helper that fails fast reports and exits at once: its connection may still be
            // waiting in the backlog when its exit is seen first.
            Task.WaitAny([accept], TimeSpan.FromSeconds(2));
        }
        if (!accept.IsCompletedSuccessfully)
        {
            cts.Cancel();
            if (monitor.HasExited)
            {
                throw new VmSandboxException(ErrorCode.Vm, $"{what} exited with code {monitor.ExitCode} before the container was created");
            }
            throw new VmSandboxException(ErrorCode.Timeout, $"{what} did not report within {timeout.TotalSeconds:F0}s");
        }
        using Socket conn = accept.Result;
        using var stream = new NetworkStream(conn);
        Task<string> line = BoundedText.ReadToEndAsync(stream, $"{what}'s report", cts.Token); // the sender closes after its one message
        try
        {
            line.Wait(CancellationToken.None);
        }
        catch (AggregateException)
        {
        }
        if (line.Exception?.InnerException is VmSandboxException tooBig)
        {
            throw tooBig;
        }
        if (!line.IsCompletedSuccessfully || line.Result.Length == 0)
        {
            throw new VmSandboxException(ErrorCode.Vm, $"{what} ended without reporting");
        }
        try
        {
            return JsonSerializer.Deserialize(line.Result, RuntimeJsonContext.Default.MonitorReport)
                ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new VmSandboxException(ErrorCode.Protocol, $"{what} sent a malformed report", e);
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        SocketFile.TryRemove(Path);
    }
}
