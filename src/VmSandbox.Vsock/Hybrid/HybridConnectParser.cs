using System.Net.Sockets;

namespace VmSandbox.Vsock.Hybrid;

/// <summary>
/// Parses the hybrid vsock command "CONNECT &lt;port&gt;\n" (Firecracker docs/vsock.md;
/// vhost-device-vsock: case-insensitive, at most 32 bytes up to and including '\n').
/// Everything here comes from a host app and is validated; a bad line closes the connection.
/// </summary>
internal static class HybridConnectParser
{
    public const int MaxLine = 32;

    /// <summary>Parses one line without its '\n'. Accepts "connect" in any case, spaces, a decimal u32.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out uint port)
    {
        port = 0;
        ReadOnlySpan<byte> verb = "connect"u8;
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }
        if (line.Length <= verb.Length || line[verb.Length] != (byte)' ')
        {
            return false;
        }
        for (int i = 0; i < verb.Length; i++)
        {
            if ((line[i] | 0x20) != verb[i])
            {
                return false;
            }
        }
        ReadOnlySpan<byte> digits = line[(verb.Length + 1)..].Trim((byte)' ');
        if (digits.IsEmpty || digits.Length > 10)
        {
            return false;
        }
        ulong value = 0;
        foreach (byte b in digits)
        {
            if (b < (byte)'0' || b > (byte)'9')
            {
                return false;
            }
            value = (value * 10) + (ulong)(b - '0');
        }
        if (value > uint.MaxValue)
        {
            return false;
        }
        port = (uint)value;
        return true;
    }

    /// <summary>
    /// Reads the command one byte at a time (so no payload byte after '\n' is consumed) and
    /// returns the port, or null for a malformed, over-long or unterminated line.
    /// </summary>
    public static async Task<uint?> ReadPortAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] line = new byte[MaxLine];
        for (int len = 0; len < MaxLine; len++)
        {
            int n = await socket.ReceiveAsync(line.AsMemory(len, 1), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return null;
            }
            if (line[len] == (byte)'\n')
            {
                return TryParse(line.AsSpan(0, len), out uint port) ? port : null;
            }
        }
        return null;
    }
}
