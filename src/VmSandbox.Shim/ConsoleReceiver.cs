using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Shim;

/// <summary>
/// The receiving end of runc's <c>--console-socket</c>, as containerd's runc shim holds it: a
/// listening socket the container core connects to and sends the new pty's master over (one
/// SCM_RIGHTS fd). Listening starts at construction, so the core's connect never waits on us;
/// the socket file goes at dispose.
/// </summary>
public sealed class ConsoleReceiver : IDisposable
{
    private readonly Socket _listener;
    private readonly Task<SafeFd> _master;
    private bool _taken;

    public ConsoleReceiver(string directory)
    {
        Path = System.IO.Path.Combine(directory, $"console-{Guid.NewGuid():N}"[..24] + ".sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            SocketFile.Bind(_listener, Path, replaceStale: false); // a fresh random name
            _listener.Listen(1);
        }
        catch
        {
            _listener.Dispose();
            SocketFile.TryRemove(Path);
            throw;
        }
        _master = Task.Run(ReceiveAsync);
    }

    public string Path { get; }

    /// <summary>The master the core sent; it must have been sent already (create returned).</summary>
    private SafeFd Master(TimeSpan wait)
    {
        if (!_master.Wait(wait))
        {
            throw new VmSandboxException(ErrorCode.Internal, "console socket: no terminal was sent");
        }
        return _master.Result;
    }

    public void Dispose()
    {
        _listener.Dispose();
        SocketFile.TryRemove(Path);
        if (_master.IsCompletedSuccessfully && !_taken)
        {
            _master.Result.Dispose();
        }
    }

    /// <summary>Hands the master over: the caller owns it from now on.</summary>
    public SafeFd TakeMaster(TimeSpan wait)
    {
        SafeFd fd = Master(wait);
        _taken = true;
        return fd;
    }

    private async Task<SafeFd> ReceiveAsync()
    {
        using Socket conn = await _listener.AcceptAsync();
        UnixSocket.SetBlocking(conn.SafeHandle);
        byte[] name = new byte[4096];
        int[] fds = new int[UnixSocket.MaxFds];
        UnixSocket.ReceiveWithFds(conn.SafeHandle, name, fds, out int count);
        if (count < 1)
        {
            throw new VmSandboxException(ErrorCode.Internal, "console socket: the message carried no terminal");
        }
        for (int i = 1; i < count; i++)
        {
            new SafeFd(fds[i]).Dispose();
        }
        return new SafeFd(fds[0]);
    }
}
