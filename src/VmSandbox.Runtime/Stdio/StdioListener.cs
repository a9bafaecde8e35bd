using System.Buffers.Binary;
using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Stdio;

/// <summary>
/// The host end of one stdio stream: the guest agent connects to host port <see cref="Port"/>,
/// which our hybrid vsock device turns into a connection on the Unix socket
/// "&lt;uds&gt;_&lt;port&gt;"; the first 8 bytes must be <see cref="Token"/> (big-endian), anything
/// else is dropped. One accepted stream per listener.
/// </summary>
public sealed class StdioListener : IDisposable
{
    private readonly Socket _socket;
    private readonly string _path;

    private StdioListener(Socket socket, string path, uint port, ulong token)
    {
        _socket = socket;
        _path = path;
        Port = port;
        Token = token;
    }

    public uint Port { get; }

    public ulong Token { get; }

    public StdioStream Describe() => new() { Port = Port, Token = Token };

    /// <summary>Binds a fresh random port next to the hybrid socket <paramref name="udsPath"/>.</summary>
    public static StdioListener Create(string udsPath)
    {
        for (int attempt = 0; ; attempt++)
        {
            // Above the well-known range and the agent's own ports; random so stale sockets don't collide.
            uint port = 0x1000_0000u + KernelRandom.Below(0x6FFF_FFFF);
            string path = $"{udsPath}_{port}";
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                SocketFile.Bind(socket, path, replaceStale: false); // a taken port is another stream's: try another
                socket.Listen(4);
                return new StdioListener(socket, path, port, BinaryPrimitives.ReadUInt64BigEndian(KernelRandom.Bytes(8)));
            }
            catch (SocketException) when (attempt < 8)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Accepts the guest's connection carrying the right token, until <paramref name="timeout"/>.</summary>
    public async Task<Stream> AcceptAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            while (true)
            {
                Socket conn = await _socket.AcceptAsync(cts.Token);
                var stream = new NetworkStream(conn, ownsSocket: true);
                byte[] token = new byte[8];
                try
                {
                    await stream.ReadExactlyAsync(token, cts.Token);
                    if (BinaryPrimitives.ReadUInt64BigEndian(token) == Token)
                    {
                        return stream;
                    }
                }
                catch (EndOfStreamException)
                {
                }
                await stream.DisposeAsync();
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new VmSandboxException(ErrorCode.Timeout, $"stdio stream on vsock port {Port}: guest did not connect within {timeout.TotalSeconds:F0}s");
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        SocketFile.TryRemove(_path);
    }
}
