using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// The host end of process stdio streams in tests: listens on the hybrid vsock's
/// "&lt;uds&gt;_&lt;port&gt;" Unix socket, reads each connection's 8-byte big-endian token and
/// hands the socket to whoever registered that token.
/// </summary>
public sealed class StdioHost : IDisposable
{
    private readonly Socket _listener;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Socket>> _waiting = new();
    private readonly CancellationTokenSource _stop = new();
    private long _next = 1;

    public StdioHost(string path)
    {
        File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(64);
        _ = AcceptLoopAsync();
    }

    /// <summary>A fresh token and the connection that will carry it.</summary>
    public (ulong Token, Task<Socket> Connection) Expect()
    {
        ulong token = (ulong)Interlocked.Increment(ref _next) | 0xABCD_0000_0000_0000UL;
        var tcs = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[token] = tcs;
        return (token, tcs.Task);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                byte[] header = new byte[8];
                int got = 0;
                while (got < 8)
                {
                    int n = await s.ReceiveAsync(header.AsMemory(got), SocketFlags.None);
                    if (n == 0)
                    {
                        s.Dispose();
                        return;
                    }
                    got += n;
                }
                ulong token = BinaryPrimitives.ReadUInt64BigEndian(header);
                if (_waiting.TryRemove(token, out var tcs))
                {
                    tcs.SetResult(s);
                }
                else
                {
                    s.Dispose();
                }
            });
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
