using System.Net.Sockets;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime.Terminal;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>runc's --console-socket: a listener like containerd-shim-runc-v2's receives the pty master.</summary>
public sealed class ConsoleSocketTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-console-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (Socket Listener, string Path) Listen()
    {
        string path = Path.Combine(_dir, "console.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return (listener, path);
    }

    /// <summary>What go-runc's ReceiveMaster does: one message, one fd, the name as payload.</summary>
    private static (SafeFd Master, string Name) Receive(Socket listener)
    {
        using Socket conn = listener.Accept();
        var buffer = new byte[4096];
        Span<int> fds = stackalloc int[UnixSocket.MaxFds];
        int n = UnixSocket.ReceiveWithFds(conn.SafeHandle, buffer, fds, out int count);
        Assert.Equal(1, count);
        return (new SafeFd(fds[0]), Encoding.UTF8.GetString(buffer, 0, n));
    }

    private static void Write(SafeFd fd, string text) => Assert.Equal(text.Length, Pipe.Write(fd, Encoding.ASCII.GetBytes(text)));

    private static string ReadUntil(SafeFd fd, string expected)
    {
        Pipe.SetNonBlocking(fd);
        var text = new StringBuilder();
        var buffer = new byte[1024];
        DateTime deadline = DateTime.UtcNow.AddSeconds(5);
        Span<short> revents = stackalloc short[1];
        while (!text.ToString().Contains(expected, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            if (Poll.Wait([fd], [Poll.In], revents, 100) > 0)
            {
                int n = Pipe.Read(fd, buffer);
                if (n > 0)
                {
                    text.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }
            }
        }
        return text.ToString();
    }

    [Fact]
    public void The_listener_gets_the_master_named_like_runc_and_data_flows_both_ways()
    {
        var (listener, path) = Listen();
        using (listener)
        {
            using ConsolePty pty = ConsoleSocket.SendNewPty(path);
            var (master, name) = Receive(listener);
            using (master)
            {
                Assert.Equal("/dev/ptmx", name);
                Assert.StartsWith("/dev/pts/", pty.PeerPath, StringComparison.Ordinal);
                Assert.Equal(pty.PeerPath, HostPty.PeerName(master));

                Write(master, "ping\n");
                Assert.Equal("ping\n", ReadUntil(pty.Peer, "ping\n"));
                Write(pty.Peer, "pong\n");
                // The line discipline echoes the input and maps NL to CR NL on output (ONLCR).
                Assert.EndsWith("pong\r\n", ReadUntil(master, "pong\r\n"), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Our_copy_of_the_master_is_closed_after_sending()
    {
        var (listener, path) = Listen();
        using (listener)
        {
            using ConsolePty pty = ConsoleSocket.SendNewPty(path);
            var (master, _) = Receive(listener);
            Assert.Equal(pty.Size, Pty.GetSize(pty.Peer));
            // Once the receiver's copy is gone, no master is left: the peer hangs up (EIO). Were
            // our copy still open, the peer would keep working. (Counting /proc/self/fd races
            // with the other pty tests that run in parallel.)
            master.Dispose();
            Assert.ThrowsAny<Exception>(() => Pty.GetSize(pty.Peer));
        }
    }

    [Theory]
    [InlineData((ushort)24, (ushort)80)]
    [InlineData((ushort)1, (ushort)1)]
    [InlineData(ushort.MaxValue, ushort.MaxValue)]
    public void The_initial_size_and_later_resizes_reach_the_peer(ushort rows, ushort columns)
    {
        var (listener, path) = Listen();
        using (listener)
        {
            using ConsolePty pty = ConsoleSocket.SendNewPty(path, new TerminalSize(rows, columns));
            Assert.Equal(new TerminalSize(rows, columns), pty.Size);
            var (master, _) = Receive(listener);
            using (master)
            {
                Assert.Equal(new TerminalSize(rows, columns), Pty.GetSize(master));
                Pty.SetSize(master, new TerminalSize(50, 200));
                Assert.Equal(new TerminalSize(50, 200), pty.Size);
            }
        }
    }

    [Theory]
    [InlineData((ushort)0, (ushort)0)]
    [InlineData((ushort)0, (ushort)80)]
    [InlineData((ushort)24, (ushort)0)]
    public void A_size_with_a_zero_side_is_not_applied(ushort rows, ushort columns)
    {
        var (listener, path) = Listen();
        using (listener)
        {
            using ConsolePty pty = ConsoleSocket.SendNewPty(path, new TerminalSize(rows, columns));
            using SafeFd master = Receive(listener).Master;
            Assert.Equal(new TerminalSize(0, 0), pty.Size);
        }
    }

    [Fact]
    public void A_missing_socket_fails_with_runcs_words()
    {
        string path = Path.Combine(_dir, "missing.sock");
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => ConsoleSocket.SendNewPty(path));
        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Equal($"dial unix {path}: connect: no such file or directory", VmSandboxException.FormatChain(e));
    }

    [Theory]
    [InlineData("regular-file")]
    [InlineData("bound-not-listening")]
    public void A_path_nobody_listens_on_is_refused(string kind)
    {
        string path = Path.Combine(_dir, kind);
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        if (kind == "regular-file")
        {
            File.WriteAllText(path, "");
        }
        else
        {
            bound.Bind(new UnixDomainSocketEndPoint(path));
        }
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => ConsoleSocket.Connect(path).Dispose());
        Assert.Equal($"dial unix {path}: connect: connection refused", VmSandboxException.FormatChain(e));
    }

    [Fact]
    public void A_path_longer_than_sun_path_is_an_invalid_argument()
    {
        string path = "/tmp/" + new string('x', 200);
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => ConsoleSocket.Connect(path));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.StartsWith($"console socket {path}: ", e.Message, StringComparison.Ordinal);
    }
}
