using System.Net.Sockets;
using System.Text.Json;
using VmSandbox.Common;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The message a helper process (the sandbox monitor, an exec relay) sends to the CLI call that
/// started it (the process exists in the guest, or why not), and the monitor's answer on its
/// control socket. Errors travel as a <see cref="WireError"/>. A monitor may send one interim
/// report before it (<see cref="NamespaceReady"/>), each on a connection of its own.
/// </summary>
public sealed record MonitorReport
{
    public int GuestPid { get; init; }

    /// <summary>
    /// An interim report: the monitor is in the container's network namespace and has read it, so
    /// the create hooks may run (and wire it) while the VM boots; the final report follows.
    /// </summary>
    public bool NamespaceReady { get; init; }

    /// <summary>A monitor that claimed a pooled VM: that VM's directory and process (ADR 0018); else null and 0.</summary>
    public string? VmRunDir { get; init; }
    public int VmPid { get; init; }
    public ulong VmStartTime { get; init; }
    public WireError? Error { get; init; }

    public static MonitorReport Failed(Exception e) => new() { Error = WireError.From(e) };

    /// <summary>The report, or its error thrown as the helper's exception.</summary>
    public MonitorReport ThrowIfFailed() => Error is null ? this : throw Error.ToException();

    /// <summary>Sends one JSON line to <paramref name="socketPath"/>; a vanished listener is only logged.</summary>
    public static async Task SendAsync(string socketPath, MonitorReport report, Action<string> log)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(report, RuntimeJsonContext.Default.MonitorReport);
            await socket.SendAsync(json.Append((byte)'\n').ToArray());
        }
        catch (SocketException e)
        {
            // The CLI call is gone (killed?): nobody to tell; state/delete still work.
            log($"report to {socketPath}: {e.Message}");
        }
    }
}
