using System.Net.Sockets;
using VmSandbox.Interop;
using VmSandbox.Vsock.Muxer;

namespace VmSandbox.Vsock.Hybrid;

/// <summary>
/// Host → guest side of hybrid vsock: listens on the main Unix socket, reads
/// "CONNECT &lt;port&gt;\n" from each host app and hands the socket to the
/// <see cref="VsockMuxer"/>, which sends REQUEST to the guest and "OK &lt;n&gt;\n" on RESPONSE.
/// </summary>
internal sealed class HybridListener : IDisposable
{
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(5);
    private readonly Socket _listener;
    private readonly string _path;
    private readonly VsockMuxer _muxer;
    private readonly Action _wake;
    private readonly CancellationTokenSource _stop = new();
    private Task _acceptLoop = Task.CompletedTask;

    public HybridListener(string path, VsockMuxer muxer, Action wake)
    {
        _path = path;
        _muxer = muxer;
        _wake = wake;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    }

    public void Start()
    {
        SocketFile.Bind(_listener, _path);
        _listener.Listen(128);
        _acceptLoop = AcceptLoopAsync();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
        SocketFile.TryRemove(_path);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            _ = HandleClientAsync(client);
        }
    }

    private async Task HandleClientAsync(Socket client)
    {
        uint? port;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(s_commandTimeout);
            port = await HybridConnectParser.ReadPortAsync(client, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            port = null;
        }
        bool accepted = false;
        if (port is { } p)
        {
            lock (_muxer.Gate)
            {
                accepted = _muxer.TryAddHostConnection(client, p);
            }
        }
        if (accepted)
        {
            _wake();
        }
        else
        {
            client.Dispose();
        }
    }
}
