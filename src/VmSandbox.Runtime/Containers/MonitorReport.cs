using System.Net.Sockets;
using System.Text.Json;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// The one message a helper process (the sandbox monitor, an exec relay) sends to the CLI call
/// that started it: the process exists in the guest, or why not.
/// </summary>
public sealed record MonitorReport
{
    public int GuestPid { get; init; }
    public string? Error { get; init; }
    /// <summary>ErrorCode name of the failure, so the CLI exits as the helper's error says.</summary>
    public string? Code { get; init; }

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
