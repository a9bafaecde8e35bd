using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using VmSandbox.Shim;
using VmSandbox.Shim.Protocol;
using Xunit;

namespace VmSandbox.Tests.Unit.Shim;

public sealed class ShimStartTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shim-start-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Reads_the_cri_handlers_config_path_from_stdin()
    {
        var any = new Any { TypeUrl = "runtimeoptions.v1.Options", Value = new Options { ConfigPath = "/etc/vmsandbox/k8s.json" }.ToByteString() };
        Assert.Equal("/etc/vmsandbox/k8s.json", ShimStart.ReadConfigPath(new MemoryStream(any.ToByteArray())));
    }

    [Fact]
    public void No_options_or_another_runtimes_options_mean_none()
    {
        Assert.Null(ShimStart.ReadConfigPath(new MemoryStream()));
        var runc = new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFromUtf8("\x08\x01") };
        Assert.Null(ShimStart.ReadConfigPath(new MemoryStream(runc.ToByteArray())));
    }

    [Fact]
    public void A_pods_containers_group_by_the_cri_sandbox_id()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{"ociVersion":"1.0.2","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"}}""");
        Assert.Equal("pod1", ShimStart.GroupOf(_dir));
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{"ociVersion":"1.0.2"}""");
        Assert.Null(ShimStart.GroupOf(_dir));
    }

    [Fact]
    public void Socket_paths_differ_by_containerd_namespace_and_group_and_fit_sun_path()
    {
        var paths = new ShimPaths(new RuntimeConfig { StateRoot = "/run/vmsandbox" }, "k8s.io");
        string a = paths.SocketFor("/run/containerd/containerd.sock", "pod1");
        Assert.Equal(a, paths.SocketFor("/run/containerd/containerd.sock", "pod1"));
        Assert.NotEqual(a, paths.SocketFor("/run/containerd/containerd.sock", "pod2"));
        Assert.NotEqual(a, paths.SocketFor("/tmp/other/containerd.sock", "pod1"));
        Assert.NotEqual(a, new ShimPaths(new RuntimeConfig { StateRoot = "/run/vmsandbox" }, "default").SocketFor("/run/containerd/containerd.sock", "pod1"));
        Assert.True(a.Length < 100, a);
        Assert.Equal("/run/vmsandbox/containerd/k8s.io", paths.StoreRoot);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("-x")]
    public void A_namespace_that_is_not_a_containerd_identifier_is_refused(string ns) =>
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<VmSandboxException>(() => new ShimPaths(new RuntimeConfig(), ns)).Code);
}
