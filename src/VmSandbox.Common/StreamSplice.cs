using System.Net.Sockets;

namespace VmSandbox.Common;

/// <summary>
/// Copies bytes both ways between a client and a server stream, byte for byte, until the server
/// side ends, either side fails, nothing arrives from either side for the idle timeout, or the
/// caller cancels; then disposes both. Each direction owns one fixed buffer, so memory stays
/// bounded whatever the peers do. The client's EOF is passed on as a half-close when the server
/// stream is a socket (its reply can still come back); otherwise the server gets until the idle
/// timeout to finish.
/// </summary>
public static class StreamSplice
{
    public const int BufferSize = 16 * 1024;

    public static async Task RunAsync(Stream client, Stream server, TimeSpan idleTimeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(idleTimeout);
        // Streams whose reads do not watch the token (blocking fd reads) wake when disposed.
        using CancellationTokenRegistration registration = cts.Token.Register(() =>
        {
            client.Dispose();
            server.Dispose();
        });
        try
        {
            Task up = CopyAsync(client, server, cts, idleTimeout, isUp: true);
            Task down = CopyAsync(server, client, cts, idleTimeout, isUp: false);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        finally
        {
            client.Dispose();
            server.Dispose();
        }
    }

    private static async Task CopyAsync(Stream source, Stream sink, CancellationTokenSource cts, TimeSpan idleTimeout, bool isUp)
    {
        byte[] buffer = new byte[BufferSize];
        try
        {
            while (true)
            {
                int n = await source.ReadAsync(buffer, cts.Token).ConfigureAwait(false);
                if (n <= 0)
                {
                    break;
                }
                cts.CancelAfter(idleTimeout); // traffic: the idle clock starts again
                await sink.WriteAsync(buffer.AsMemory(0, n), cts.Token).ConfigureAwait(false);
            }
            if (isUp && sink is NetworkStream { Socket: var socket })
            {
                socket.Shutdown(SocketShutdown.Send);
                return; // the server may still answer: the down direction decides the end
            }
            if (isUp)
            {
                return;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            // A peer reset or left, the idle timer fired, or the caller cancelled: the end.
        }
        try
        {
            cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
