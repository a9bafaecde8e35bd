using System.Net.Sockets;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>A helper process that runs for the whole test (this process): its reports always come first.</summary>
internal sealed class RunningHelper : IHelperProcess
{
    public int Pid => Environment.ProcessId;

    public ulong StartTime => 0;

    public bool HasExited => false;

    public int ExitCode => throw new InvalidOperationException("running");

    public HelperStdio? Stdio => null;

    public Task WaitForExitAsync(CancellationToken ct = default) => Task.Delay(Timeout.Infinite, ct);

    public void Abandon(TimeSpan exitWait) => throw new InvalidOperationException("the test process is not abandoned");

    public void Dispose()
    {
    }

    /// <summary>What a helper does to report: connects to <paramref name="path"/>, writes <paramref name="report"/>, closes.</summary>
    public static async Task SendAsync(string path, byte[] report, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
        await socket.SendAsync(report, SocketFlags.None, ct);
    }
}
