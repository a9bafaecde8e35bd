using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class OomForwarderTests
{
    [Fact]
    public void The_shims_flags_give_containerds_address_namespace_and_id()
    {
        OomForwarder.ShimInfo? shim = OomForwarder.ParseShim(
            ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "abc", "-address", "/run/containerd/containerd.sock"]);
        Assert.Equal(new OomForwarder.ShimInfo("/run/containerd/containerd.sock", "moby", "abc", "/usr/bin/containerd"), shim);
        Assert.Equal("/opt/containerd", OomForwarder.ParseShim(
            ["containerd-shim-runc-v2", "--namespace=k8s.io", "-id", "x", "-address", "/a", "-publish-binary", "/opt/containerd"])!.PublishBinary);
    }

    [Fact]
    public void Other_parents_are_not_shims()
    {
        Assert.Null(OomForwarder.ParseShim(["/bin/bash", "-namespace", "moby", "-id", "abc", "-address", "/a"]));
        Assert.Null(OomForwarder.ParseShim(["containerd-shim-runc-v2", "-namespace", "moby"]));
        Assert.Null(OomForwarder.ParseShim([]));
    }

    [Fact]
    public void The_payload_is_an_any_holding_task_oom()
    {
        // Any{1: "containerd.events.TaskOOM", 2: TaskOOM{1: "abc"}}, by hand.
        byte[] expected = [0x0A, 25, .. "containerd.events.TaskOOM"u8, 0x12, 5, 0x0A, 3, .. "abc"u8];
        Assert.Equal(expected, OomForwarder.Payload("abc"));
    }
}
