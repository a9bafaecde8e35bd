using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Unit.Interop;

/// <summary>
/// Issue 15: every socket path the host binds replaces only a stale socket (lstat, S_ISSOCK),
/// refuses anything else with one error and keeps it, and is 0600 once bound.
/// </summary>
[Trait("Category", "Reliability")]
public sealed class SocketFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("socketfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> NotSockets => ["file", "directory", "symlink-to-socket", "dangling-symlink", "fifo"];

    [Theory]
    [MemberData(nameof(NotSockets))]
    public void Something_that_is_not_a_socket_is_refused_and_kept(string kind)
    {
        string path = Path.Combine(_dir, "x.sock");
        string target = Path.Combine(_dir, "target.sock");
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        switch (kind)
        {
            case "file":
                File.WriteAllText(path, "not ours");
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "symlink-to-socket":
                other.Bind(new UnixDomainSocketEndPoint(target));
                File.CreateSymbolicLink(path, target);
                break;
            case "dangling-symlink":
                File.CreateSymbolicLink(path, Path.Combine(_dir, "nowhere"));
                break;
            case "fifo":
                FileSystemCalls.MakeNode(path, 0x1000 | 0x180, 0); // S_IFIFO | 0600
                break;
        }
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var e = Assert.Throws<VmSandboxException>(() => SocketFile.Bind(listener, path));
        bool kept = Path.Exists(path) || new FileInfo(path).LinkTarget is not null;
        bool ok = e.Message == $"{path} exists and is not a socket; not removing it" && kept;
        Assert.True(ReliabilityLog.Record("Bad input", $"a {kind} where a host socket goes",
            $"put a {kind} at the path of a host socket before binding it",
            "refused with one error, left in place", $"error \"{e.Message}\", kept: {kept}", ok), e.Message);
        if (kind == "symlink-to-socket")
        {
            Assert.True(FileStat.IsSocket(target)); // the link's target is not touched either
        }
    }

    [Fact]
    public void A_stale_socket_is_replaced_and_the_new_one_is_owner_only()
    {
        string path = Path.Combine(_dir, "x.sock");
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(path)); // left behind: closed, file still there
        }
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        SocketFile.Bind(listener, path);
        listener.Listen(1);
        Assert.True(FileStat.IsSocket(path));
        // bind(2) alone gives 0777 less the umask (0755 under the usual 022): 0600 is ours.
        Assert.Equal(SocketFile.OwnerOnly, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Fresh_bind_never_replaces_a_socket_another_listener_holds()
    {
        string path = Path.Combine(_dir, "x.sock");
        using var first = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        SocketFile.Bind(first, path);
        first.Listen(1);
        using var second = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        Assert.Throws<SocketException>(() => SocketFile.Bind(second, path, replaceStale: false));
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path)); // still the first one's
    }

    [Fact]
    public void Clean_up_removes_only_a_socket()
    {
        string sock = Path.Combine(_dir, "a.sock");
        string file = Path.Combine(_dir, "b.sock");
        using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            s.Bind(new UnixDomainSocketEndPoint(sock));
        }
        File.WriteAllText(file, "not ours");
        SocketFile.TryRemove(sock);
        SocketFile.TryRemove(file);
        SocketFile.TryRemove(Path.Combine(_dir, "absent.sock"));
        Assert.False(Path.Exists(sock));
        Assert.Equal("not ours", File.ReadAllText(file));
    }
}
