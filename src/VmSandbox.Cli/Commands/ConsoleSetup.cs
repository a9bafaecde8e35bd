using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Terminal;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// --console-socket: a host pty whose master goes to the socket (as runc sends it). The peer is
/// made raw (the guest's pty does the cooking) and its path returned for the relay to open; the
/// pty lives on while the receiver holds the master.
/// </summary>
public static class ConsoleSetup
{
    public static string SendNewPty(string consoleSocket, ProcessSpec.Box? size)
    {
        TerminalSize? initial = size is { Height: > 0, Width: > 0 } b ? new TerminalSize((ushort)Math.Min(b.Height, ushort.MaxValue), (ushort)Math.Min(b.Width, ushort.MaxValue)) : null;
        using ConsolePty pty = ConsoleSocket.SendNewPty(consoleSocket, initial);
        Pty.MakeRaw(pty.Peer);
        return pty.PeerPath;
    }
}
