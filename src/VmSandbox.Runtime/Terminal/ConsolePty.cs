using VmSandbox.Interop;

namespace VmSandbox.Runtime.Terminal;

/// <summary>
/// The side of a console pty that stays with us once the master has gone to the caller's
/// console socket: the monitor relays it to the container's terminal in the guest.
/// </summary>
public sealed class ConsolePty : IDisposable
{
    public ConsolePty(SafeFd peer, string peerPath)
    {
        Peer = peer;
        PeerPath = peerPath;
    }

    /// <summary>The pty's peer (slave) side, O_RDWR|O_NOCTTY|O_CLOEXEC.</summary>
    public SafeFd Peer { get; }

    /// <summary>The peer's path, e.g. "/dev/pts/3".</summary>
    public string PeerPath { get; }

    /// <summary>The size the caller last set on the master (TIOCGWINSZ on the peer).</summary>
    public TerminalSize Size => Pty.GetSize(Peer);

    public void Dispose() => Peer.Dispose();

    /// <summary>
    /// Opens the host pty's peer and makes it this process's controlling terminal (the monitor
    /// and the exec relay lead sessions of their own), so that the caller's resize of the master
    /// arrives here as SIGWINCH (<see cref="Sandbox.GuestSignalRelay"/>). Without it the relay still works,
    /// only without resizes, so a failure is logged, not fatal.
    /// </summary>
    public static SafeFd OpenControllingPeer(string path, Action<string> log)
    {
        SafeFd tty = SafeFd.Open(path, FileSystemCalls.O_RDWR | FileSystemCalls.O_NOCTTY | FileSystemCalls.O_CLOEXEC);
        try
        {
            Pty.SetControllingTerminal(tty);
        }
        catch (Common.VmSandboxException e)
        {
            log($"{path}: not made the controlling terminal, resizes will not reach the guest: {e.Message}");
        }
        return tty;
    }
}
