using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Terminal;

/// <summary>
/// runc's <c>--console-socket</c>: allocate a pseudo-terminal, send its master to the caller over
/// the AF_UNIX socket at the given path (one SCM_RIGHTS fd; the payload is the master's name, as
/// runc's <c>cmsg.SendRawFd(socket, pty.Name(), pty.Fd())</c>), close our copy of the master, and
/// keep the peer. containerd-shim-runc-v2 and go-runc's console socket receive it this way.
/// In a VM runtime the container's terminal lives in the guest: the monitor copies between the
/// peer kept here and the guest's terminal stream, and forwards size changes.
/// </summary>
public static class ConsoleSocket
{
    /// <summary>The name runc sends (containerd/console opens the master as "/dev/ptmx").</summary>
    public const string MasterName = "/dev/ptmx";

    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int ECONNREFUSED = 111;

    /// <summary>
    /// Connects to <paramref name="socketPath"/>, sends a new pty's master (sized to
    /// <paramref name="size"/> first, when given, as runc does with process.consoleSize) and
    /// returns its peer.
    /// </summary>
    public static ConsolePty SendNewPty(string socketPath, TerminalSize? size = null)
    {
        using Socket socket = Connect(socketPath);
        using SafeFd master = HostPty.OpenMaster();
        SafeFd peer = HostPty.OpenPeer(master);
        try
        {
            if (size is { Rows: > 0, Columns: > 0 } s)
            {
                Pty.SetSize(master, s);
            }
            string peerPath = HostPty.PeerName(master);
            SendMaster(socket, master);
            return new ConsolePty(peer, peerPath);
        }
        catch
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>Connects a blocking AF_UNIX stream socket, with runc's (Go's net.Dial) error wording.</summary>
    public static Socket Connect(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            int errno = e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable => ENOENT,
                SocketError.AccessDenied => EACCES,
                SocketError.ConnectionRefused => ECONNREFUSED,
                _ => e.NativeErrorCode,
            };
            string text = Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant();
            // runc compat: "dial unix /run/x.sock: connect: no such file or directory".
            throw new VmSandboxException(errno == ENOENT ? ErrorCode.NotFound : ErrorCode.System,
                $"dial unix {socketPath}: connect: {text}")
            { Errno = errno };
        }
        catch (ArgumentException e)
        {
            socket.Dispose();
            // UnixDomainSocketEndPoint: an empty path or one longer than sun_path (108 bytes).
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"console socket {socketPath}: {e.Message.ToLowerInvariant()}");
        }
    }

    /// <summary>Sends <paramref name="master"/> with its name as the payload; the caller closes its copy afterwards.</summary>
    public static void SendMaster(Socket socket, SafeFd master, string name = MasterName)
    {
        bool added = false;
        master.DangerousAddRef(ref added);
        try
        {
            UnixSocket.SendWithFds(socket.SafeHandle, Encoding.UTF8.GetBytes(name), [master.Fd]);
        }
        catch (VmSandboxException e)
        {
            throw new VmSandboxException(e.Code, "send console master to the console socket", e);
        }
        finally
        {
            if (added)
            {
                master.DangerousRelease();
            }
        }
    }
}
