using VmSandbox.Agent.ContainerInit;
using VmSandbox.Common;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

/// <summary>Mount destinations resolved in a rootfs whose symlinks try to lead out of it.</summary>
public sealed class SecureJoinTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vmsb-securejoin-").FullName;

    public SecureJoinTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "a", "b"));
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.WriteAllText(Path.Combine(_root, "file"), "x");
        File.CreateSymbolicLink(Path.Combine(_root, "up"), "../../../..");
        File.CreateSymbolicLink(Path.Combine(_root, "abs"), "/etc");
        File.CreateSymbolicLink(Path.Combine(_root, "rel"), "a/b");
        File.CreateSymbolicLink(Path.Combine(_root, "a", "parent"), "..");
        File.CreateSymbolicLink(Path.Combine(_root, "a", "b", "escape"), "../../../../../sbin/init");
        File.CreateSymbolicLink(Path.Combine(_root, "loop1"), "loop2");
        File.CreateSymbolicLink(Path.Combine(_root, "loop2"), "loop1");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("/a/b", "/a/b")]
    [InlineData("a//b/./", "/a/b")]
    [InlineData("/", "/")]
    [InlineData("/../../..", "/")]
    [InlineData("/up", "/")]
    [InlineData("/up/etc/passwd", "/etc/passwd")]
    [InlineData("/abs/shadow", "/etc/shadow")]
    [InlineData("/rel/new/dir", "/a/b/new/dir")]
    [InlineData("/a/parent/a/b", "/a/b")]
    [InlineData("/a/b/escape", "/sbin/init")]
    [InlineData("/missing/../a", "/a")]
    [InlineData("/file/under", "/file/under")]
    public void Symlinks_and_dotdot_stay_inside_the_rootfs(string path, string expected)
    {
        string resolved = SecureJoin.Resolve(_root + "/", path);
        Assert.Equal(expected == "/" ? _root + "/" : _root + expected, resolved);
    }

    [Fact]
    public void A_symlink_loop_is_refused()
    {
        var e = Assert.Throws<VmSandboxException>(() => SecureJoin.Resolve(_root, "/loop1/x"));
        Assert.Contains("too many levels of symbolic links", e.Message, StringComparison.Ordinal);
    }
}
