using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>Containers that reach for what is not theirs: mounts aimed outside the rootfs, device nodes outside the allow list.</summary>
[Collection(LifecycleCollection.Name)]
public sealed class HostileImageTests(BundleFixture fx)
{
    [Fact]
    public async Task A_symlink_in_the_image_cannot_aim_a_mount_at_the_guests_own_files()
    {
        // "/escape" → "../../../.." in the image: followed lexically by the guest's kernel it is
        // the guest's root; resolved as the container sees it, it is the rootfs's "/".
        string link = Path.Combine(fx.Rootfs, "escape");
        if (!File.Exists(link) && !Directory.Exists(link))
        {
            File.CreateSymbolicLink(link, "../../../..");
        }
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("sh", "-c", "grep ' /marker-dir ' /proc/mounts | cut -d' ' -f3"));
        spec["mounts"]!.AsArray().Add(ContainerSpecs.Mount("/escape/marker-dir", "tmpfs", "tmpfs", "nosuid"));
        string root = fx.NewRoot();
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), "symlink");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("tmpfs\n", r.Stdout);
        fx.AssertNothingLeft(root, "symlink");
    }

    [Fact]
    public async Task A_device_outside_the_allow_list_can_be_made_but_not_opened()
    {
        // Docker's way: deny everything, allow a few; runc's defaults (null, zero, ptys, mknod of
        // anything) come after. /dev/kmsg (c 1:11) is not among them.
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("sh", "-c",
            "mknod /tmp/kmsg c 1 11 && echo made; { echo x > /tmp/kmsg; } 2>/dev/null; echo kmsg=$?; echo x > /dev/null && echo null=ok"));
        spec["linux"]!["resources"] = new JsonObject
        {
            ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }),
        };
        string root = fx.NewRoot();
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), "devices");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("made\nkmsg=1\nnull=ok\n", r.Stdout);
        fx.AssertNothingLeft(root, "devices");
    }
}
