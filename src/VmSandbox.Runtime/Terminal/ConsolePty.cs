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
}
