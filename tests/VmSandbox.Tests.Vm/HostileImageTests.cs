using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>An image that tries to aim a mount outside its rootfs through its own symlinks.</summary>
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
}
