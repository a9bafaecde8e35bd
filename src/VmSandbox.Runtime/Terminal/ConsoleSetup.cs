using VmSandbox.Interop;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Runtime.Terminal;

/// <summary>
/// --console-socket: a host pty whose master goes to the socket (as runc sends it). The peer is
/// made raw (the guest's pty does the cooking) and returned; the relay (the monitor, the exec
/// relay or this process) opens it again by its path. The caller keeps this peer open until the
/// relay has: a master whose every peer is closed reads EIO, and a receiver such as runc's
/// recvtty gives up on that (runc's update.bats saw it while the VM booted).
/// </summary>
public static class ConsoleSetup
{
    public static ConsolePty SendNewPty(string consoleSocket, ProcessSpec.Box? size)
    {
        TerminalSize? initial = size is { Height: > 0, Width: > 0 } b ? TerminalSize.Clamp(b.Height, b.Width) : null;
        ConsolePty pty = ConsoleSocket.SendNewPty(consoleSocket, initial);
        try
        {
            Pty.MakeRaw(pty.Peer);
            return pty;
        }
        catch
        {
            pty.Dispose();
            throw;
        }
    }
}
