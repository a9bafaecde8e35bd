using System.Net.Sockets;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>Socket helpers of the fuzz targets that talk to a server.</summary>
internal static class FuzzSockets
{
    /// <summary>
    /// Everything the peer sends until it closes (a reset after a refused input ends it too);
    /// at most 1 MiB. Not through NetworkStream: it refuses a socket shut down for sending.
    /// </summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken ct)
    {
        using var all = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int n;
            while (all.Length < 1024 * 1024 && (n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
            {
                all.Write(buffer, 0, n);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        return all.ToArray();
    }
}
