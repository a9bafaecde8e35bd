using VmSandbox.Common;
using VmSandbox.Shim;
using Xunit;

namespace VmSandbox.Tests.Unit.Shim;

public sealed class ShimFlagsTests
{
    [Fact]
    public void Parses_containerds_start_command_line()
    {
        // runtime/v2/shim/util.go Command: flags first, the action last, Go flag syntax.
        ShimFlags f = ShimFlags.Parse(["-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start"]);
        Assert.Equal("k8s.io", f.Namespace);
        Assert.Equal("/run/containerd/containerd.sock", f.Address);
        Assert.Equal("/usr/bin/containerd", f.PublishBinary);
        Assert.Equal("abc", f.Id);
        Assert.True(f.Debug);
        Assert.Equal("start", f.Action);
    }

    [Fact]
    public void Parses_equals_form_double_dash_and_delete_bundle()
    {
        ShimFlags f = ShimFlags.Parse(["--namespace=default", "-id=x", "-bundle", "/b", "delete"]);
        Assert.Equal(("default", "x", "/b", "delete"), (f.Namespace, f.Id, f.Bundle, f.Action));
        Assert.False(f.Debug);
    }

    [Fact]
    public void No_action_is_the_serving_shim()
    {
        ShimFlags f = ShimFlags.Parse(["-namespace", "n", "-id", "i", "-socket", "/s.sock"]);
        Assert.Equal("", f.Action);
        Assert.Equal("/s.sock", f.Socket);
        Assert.Equal(["-namespace", "n", "-id", "i", "-address", "", "-publish-binary", "", "-socket", "/t.sock"], f.ForServer("/t.sock"));
    }

    [Theory]
    [InlineData("-bogus")]
    [InlineData("-namespace")]
    public void Refuses_unknown_flags_and_missing_values(string arg)
    {
        var e = Assert.Throws<VmSandboxException>(() => ShimFlags.Parse([arg]));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public void Refuses_arguments_after_the_action() =>
        Assert.Throws<VmSandboxException>(() => ShimFlags.Parse(["start", "extra"]));

    [Fact]
    public void Namespace_and_id_are_required() =>
        Assert.Contains("namespace", Assert.Throws<VmSandboxException>(() => ShimFlags.Parse(["-id", "x", "start"]).RequireTask()).Message);
}
