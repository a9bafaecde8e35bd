using System.Globalization;
using System.Text.Json;
using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Hypervisor.Qemu;

/// <summary>
/// The one place that turns <see cref="VmDevice"/>s into QEMU's language: command-line
/// arguments for devices present at boot (virtio-pci on q35, virtio-mmio on microvm), QMP
/// <c>netdev_add</c>/<c>device_add</c> arguments for devices hot-plugged into one of the VM's
/// PCIe root ports (q35 only).
/// </summary>
public static class QemuDeviceRenderer
{
    /// <summary>The id of hot-plug root port <paramref name="index"/>.</summary>
    public static string HotplugPortId(int index) => "hp" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Arguments that add <paramref name="device"/> at boot to a <paramref name="machine"/> VM.</summary>
    public static IReadOnlyList<string> Arguments(VmDevice device, MachineType machine)
    {
        // QEMU names each virtio device after its transport: vhost-user-fs-pci, vhost-user-fs-device (mmio).
        string transport = machine == MachineType.Microvm ? "device" : "pci";
        return device switch
        {
            VhostUserVsockDevice v => ["-chardev", $"socket,id=vsock,path={v.SocketPath}", "-device", $"vhost-user-vsock-{transport},chardev=vsock"],
            VirtiofsDevice f => ["-chardev", $"socket,id={f.Id},path={f.SocketPath}", "-device", $"vhost-user-fs-{transport},chardev={f.Id},tag={f.Tag},queue-size=1024"],
            NetDevice n => ["-netdev", $"tap,id={n.Id},ifname={n.TapName},script=no,downscript=no", "-device", $"virtio-net-{transport},netdev={n.Id},mac={n.Mac},id=dev-{n.Id}"],
            BalloonDevice b => ["-device", $"virtio-balloon-{transport},id={b.Id},free-page-reporting=on"],
            _ => throw new ArgumentException($"device {device.Id}: {device.GetType().Name} has no qemu rendering", nameof(device)),
        };
    }

    /// <summary>The PCIe root ports that hot-plugged devices go into.</summary>
    public static IReadOnlyList<string> HotplugPortArguments(int count)
    {
        var a = new List<string>(count * 2);
        for (int i = 0; i < count; i++)
        {
            // Each root port is its own chassis: QEMU refuses two ports with one chassis/slot pair.
            a.Add("-device");
            a.Add($"pcie-root-port,id={HotplugPortId(i)},chassis={(i + 1).ToString(CultureInfo.InvariantCulture)}");
        }
        return a;
    }

    /// <summary>
    /// The QMP commands (name and argument writer, in order) that hot-plug
    /// <paramref name="device"/> into root port <paramref name="port"/>. Only NICs are hot-pluggable today.
    /// </summary>
    public static IReadOnlyList<(string Command, Action<Utf8JsonWriter> Arguments)> Hotplug(VmDevice device, int port) => device switch
    {
        NetDevice n =>
        [
            ("netdev_add", w =>
            {
                w.WriteString("type", "tap");
                w.WriteString("id", n.Id);
                w.WriteString("ifname", n.TapName);
                w.WriteString("script", "no");
                w.WriteString("downscript", "no");
            }),
            ("device_add", w =>
            {
                w.WriteString("driver", "virtio-net-pci");
                w.WriteString("id", "dev-" + n.Id);
                w.WriteString("netdev", n.Id);
                w.WriteString("mac", n.Mac);
                w.WriteString("bus", HotplugPortId(port));
            }),
        ],
        _ => throw new ArgumentException($"device {device.Id}: {device.GetType().Name} cannot be hot-plugged", nameof(device)),
    };
}
