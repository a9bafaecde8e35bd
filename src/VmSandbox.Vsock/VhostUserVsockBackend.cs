using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Virtio.VhostUser;
using VmSandbox.Vsock.Hybrid;
using VmSandbox.Vsock.Muxer;

namespace VmSandbox.Vsock;

/// <summary>
/// A vhost-user back-end for QEMU's vhost-user-vsock-pci that exposes the guest's vsock ports
/// as hybrid vsock on Unix sockets (so the host needs no vhost_vsock module and no AF_VSOCK).
/// One back-end serves one VM: it accepts one QEMU connection and stops when QEMU disconnects.
/// Threads: "vhost-user" handles control messages; "vsock-device" runs the data path; host
/// socket I/O is async. Disposing stops everything, closes every fd and unmaps guest memory.
/// </summary>
public sealed class VhostUserVsockBackend : IAsyncDisposable
{
    private readonly VsockBackendOptions _options;
    private readonly Socket _listener;
    private readonly VsockMuxer _muxer;
    private readonly VsockDevice _device;
    private readonly HybridListener _hybrid;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private Socket? _connection;
    private Task _control = Task.CompletedTask;
    private bool _disposed;

    private VhostUserVsockBackend(VsockBackendOptions options)
    {
        _options = options;
        VsockDevice? device = null;
        _muxer = new VsockMuxer(options.GuestCid, options.UdsPath, () => device?.Wake(), options.Log);
        device = new VsockDevice(_muxer, options.Log);
        _device = device;
        _hybrid = new HybridListener(options.UdsPath, _muxer, _device.Wake);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    }

    /// <summary>Completes when QEMU has disconnected (or the back-end was disposed) and all is released.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Listens on both sockets and returns; QEMU may connect from now on.</summary>
    public static VhostUserVsockBackend Start(VsockBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.GuestCid < 3 || options.GuestCid >= uint.MaxValue)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"start vsock back-end: guest cid {options.GuestCid} is reserved or too large");
        }
        var backend = new VhostUserVsockBackend(options);
        try
        {
            backend._device.StartLoop();
            backend._hybrid.Start();
            SocketFile.Bind(backend._listener, options.SocketPath);
            backend._listener.Listen(1);
            backend._control = Task.Factory.StartNew(backend.ServeOne, CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (Exception e)
        {
            backend.Release();
            throw new VmSandboxException(ErrorCode.System, $"start vsock back-end on {options.SocketPath}", e);
        }
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _listener.Dispose();
            // Wakes the control thread out of recvmsg (it then sees end of stream).
            try
            {
                _connection?.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        await _control.ConfigureAwait(false);
        await _completion.Task.ConfigureAwait(false);
    }

    /// <summary>The control thread: accept QEMU, serve it until it leaves, then release everything.</summary>
    private void ServeOne()
    {
        try
        {
            Socket connection = _listener.Accept();
            lock (_lock)
            {
                if (_disposed)
                {
                    connection.Dispose();
                    return;
                }
                _connection = connection;
            }
            UnixSocket.SetBlocking(connection.SafeHandle);
            using var handler = new VhostUserHandler(new VhostUserChannel(connection.SafeHandle), _device, _options.Log);
            handler.Run();
            _options.Log?.Invoke("vhost-user: front-end disconnected");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Disposed before QEMU connected.
        }
        catch (Exception e)
        {
            _options.Log?.Invoke($"vsock back-end: {VmSandboxException.FormatChain(e)}");
        }
        finally
        {
            Release();
        }
    }

    private void Release()
    {
        lock (_lock)
        {
            _disposed = true;
            _listener.Dispose();
            _connection?.Dispose();
        }
        _hybrid.Dispose();
        _device.Dispose();
        lock (_muxer.Gate)
        {
            _muxer.Reset(stop: true);
        }
        SocketFile.TryRemove(_options.SocketPath);
        _completion.TrySetResult();
    }
}
