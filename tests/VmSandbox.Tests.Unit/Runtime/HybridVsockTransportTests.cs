using VmSandbox.Hypervisor;
using VmSandbox.Hypervisor.Qemu;
using VmSandbox.Runtime.Vsock;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class HybridVsockTransportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-vsock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Hybrid_transport_adds_our_vhost_user_device()
    {
        await using HybridVsockTransport t = HybridVsockTransport.Start(_dir);
        Assert.Equal(["-chardev", $"socket,id=vsock,path={_dir}/vhost-vsock.sock", "-device", "vhost-user-vsock-pci,chardev=vsock"], QemuDeviceRenderer.Arguments(t.Device, MachineType.Q35));
        Assert.Equal(Path.Combine(_dir, "vsock.sock"), t.UdsPath);
        Assert.Equal($"hybrid vsock ({t.UdsPath})", t.Description);
        Assert.True(File.Exists(Path.Combine(_dir, "vhost-vsock.sock")), "the back-end must listen before QEMU starts");
    }
}
