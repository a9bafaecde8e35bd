using VmSandbox.Common;
using VmSandbox.Hypervisor.Qemu;
using VmSandbox.Runtime.Vsock;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class VsockTransportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-cid-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(VsockTransportKind.Auto, true, VsockTransportKind.Kernel)]
    [InlineData(VsockTransportKind.Auto, false, VsockTransportKind.Hybrid)]
    [InlineData(VsockTransportKind.Hybrid, true, VsockTransportKind.Hybrid)]
    [InlineData(VsockTransportKind.Hybrid, false, VsockTransportKind.Hybrid)]
    [InlineData(VsockTransportKind.Kernel, true, VsockTransportKind.Kernel)]
    public void Chooses_kernel_vhost_only_where_the_device_exists(VsockTransportKind requested, bool device, VsockTransportKind expected) =>
        Assert.Equal(expected, VsockTransportSelector.Choose(requested, p => device && p == "/dev/vhost-vsock"));

    [Fact]
    public void Forcing_kernel_without_the_device_names_the_fix()
    {
        var e = Assert.Throws<VmSandboxException>(() => VsockTransportSelector.Choose(VsockTransportKind.Kernel, _ => false));
        Assert.Equal(ErrorCode.HostMissing, e.Code);
        Assert.Contains("modprobe vhost_vsock", e.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void This_host_uses_hybrid_vsock_because_it_has_no_vhost_vsock_device()
    {
        // Our development and CI machines lack /dev/vhost-vsock and must never open AF_VSOCK.
        if (File.Exists(VsockTransportSelector.VhostVsockDevice))
        {
            Assert.Skip("this host has /dev/vhost-vsock");
        }
        Assert.Equal(VsockTransportKind.Hybrid, VsockTransportSelector.Choose(VsockTransportKind.Auto, File.Exists));
    }

    [Theory]
    [InlineData("auto", VsockTransportKind.Auto)]
    [InlineData(null, VsockTransportKind.Auto)]
    [InlineData("Hybrid", VsockTransportKind.Hybrid)]
    [InlineData("kernel", VsockTransportKind.Kernel)]
    public void Parses_transport_names(string? text, VsockTransportKind expected) => Assert.Equal(expected, VsockTransportSelector.Parse(text));

    [Fact]
    public void Rejects_unknown_transport_names() =>
        Assert.Equal(ErrorCode.Config, Assert.Throws<VmSandboxException>(() => VsockTransportSelector.Parse("vmci")).Code);

    [Fact]
    public void Guest_cids_are_unique_while_held_and_reused_after_release()
    {
        (uint a, IDisposable leaseA) = GuestCidAllocator.Allocate(_dir);
        (uint b, IDisposable leaseB) = GuestCidAllocator.Allocate(_dir);
        Assert.Equal(GuestCidAllocator.First, a);
        Assert.Equal(GuestCidAllocator.First + 1, b);
        leaseA.Dispose();
        (uint c, IDisposable leaseC) = GuestCidAllocator.Allocate(_dir);
        Assert.Equal(a, c);
        leaseB.Dispose();
        leaseC.Dispose();
    }

    [Fact]
    public async Task Kernel_transport_adds_vhost_vsock_pci_with_its_cid()
    {
        await using KernelVsockTransport t = KernelVsockTransport.Create(_dir);
        Assert.Equal(["-device", $"vhost-vsock-pci,guest-cid={t.Cid}"], QemuDeviceRenderer.Arguments(t.Device));
        Assert.Equal($"kernel vhost-vsock (cid {t.Cid})", t.Description);
    }

    [Fact]
    public async Task Hybrid_transport_adds_our_vhost_user_device()
    {
        await using HybridVsockTransport t = HybridVsockTransport.Start(_dir);
        Assert.Equal(["-chardev", $"socket,id=vsock,path={_dir}/vhost-vsock.sock", "-device", "vhost-user-vsock-pci,chardev=vsock"], QemuDeviceRenderer.Arguments(t.Device));
        Assert.Equal(Path.Combine(_dir, "vsock.sock"), t.UdsPath);
        Assert.True(File.Exists(Path.Combine(_dir, "vhost-vsock.sock")), "the back-end must listen before QEMU starts");
    }
}
