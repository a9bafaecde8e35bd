using System.Net.Sockets;
using System.Text;
using VmSandbox.Common;

namespace VmSandbox.Runtime.Vsock;

/// <summary>
/// Host-side client of hybrid vsock: connects to the back-end's Unix socket, sends
/// "CONNECT &lt;port&gt;\n" and waits for "OK …\n". The guest may not listen yet (the back-end
/// then closes the connection), so it retries until the deadline.
/// </summary>
public static class HybridVsockConnector
{
    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(20);

    // A guest whose vsock driver is still probing drops REQUESTs silently: do not wait for
    // the first attempt's OK line longer than this before trying again. Each later attempt
    // waits twice as long: a running guest on a loaded host (other VMs spinning under TCG)
    // answers slower than this every time, and fixed 2 s attempts then never got an answer
    // before the deadline (an exec of `exit 5` failed with exit 1).
    private static readonly TimeSpan s_firstAttemptTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Returns a socket connected to guest port <paramref name="port"/>, positioned after the OK line.</summary>
    public static async Task<Socket> ConnectAsync(string udsPath, uint port, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(udsPath);
        byte[] command = Encoding.ASCII.GetBytes($"CONNECT {port}\n");
        string lastError = "no attempt made";
        TimeSpan attemptTimeout = s_firstAttemptTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            TimeSpan left = deadline - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new VmSandboxException(ErrorCode.Timeout, $"connect to guest vsock port {port} via {udsPath}: {lastError}");
            }
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(left < attemptTimeout ? left : attemptTimeout);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(udsPath), attempt.Token).ConfigureAwait(false);
                await socket.SendAsync(command, SocketFlags.None, attempt.Token).ConfigureAwait(false);
                string? line = await ReadLineAsync(socket, attempt.Token).ConfigureAwait(false);
                if (line is not null && line.StartsWith("OK ", StringComparison.Ordinal))
                {
                    return socket;
                }
                lastError = line is null ? "connection closed (guest not listening?)" : $"unexpected reply '{line}'";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                lastError = $"no answer within {attemptTimeout.TotalSeconds:0} s";
                attemptTimeout *= 2;
            }
            catch (SocketException e)
            {
                lastError = e.Message.ToLowerInvariant();
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            socket.Dispose();
            await Task.Delay(s_retryDelay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads one '\n'-terminated line byte by byte (no payload byte is consumed).</summary>
    private static async Task<string?> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64];
        for (int len = 0; len < buffer.Length; len++)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(len, 1), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return null;
            }
            if (buffer[len] == (byte)'\n')
            {
                return Encoding.ASCII.GetString(buffer, 0, len);
            }
        }
        return null;
    }
}
