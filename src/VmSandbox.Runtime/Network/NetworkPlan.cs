using System.Globalization;
using System.Net;
using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Hypervisor.Devices;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// Pure decisions of network mirroring: which host interfaces get a NIC (those not mirrored
/// yet), which tap and device names they get, and the agent's ConfigureNetwork request that
/// gives the guest the same names, MACs, MTUs, addresses and routes.
/// </summary>
public static class NetworkPlan
{
    /// <summary>The tap and NIC of host interface number <paramref name="slot"/> (0 for the first mirrored one).</summary>
    public static NetDevice DeviceFor(HostInterface host, int slot) =>
        new("net" + slot.ToString(CultureInfo.InvariantCulture), NetnsSnapshot.TapPrefix + slot.ToString(CultureInfo.InvariantCulture), host.Mac);

    /// <summary>
    /// A NIC for an interface that does not exist yet, for a VM that cannot hot-plug (microvm): it
    /// boots with a locally administered placeholder address, and the agent gives it the
    /// interface's when one appears (<see cref="NetworkInterface.DeviceMac"/>).
    /// </summary>
    public static NetDevice SpareDevice(int slot) =>
        new("net" + slot.ToString(CultureInfo.InvariantCulture), NetnsSnapshot.TapPrefix + slot.ToString(CultureInfo.InvariantCulture),
            "02:00:00:00:00:" + slot.ToString("x2", CultureInfo.InvariantCulture));

    /// <summary>The interfaces of <paramref name="snapshot"/> that no NIC mirrors yet, matched by name and MAC.</summary>
    public static IReadOnlyList<HostInterface> NewInterfaces(NetnsSnapshot snapshot, IEnumerable<HostInterface> mirrored) =>
        snapshot.Interfaces.Where(i => !mirrored.Any(m => m.Name == i.Name && m.Mac == i.Mac)).ToList();

    /// <summary>
    /// What the agent needs to configure <paramref name="interfaces"/> and the routes through them;
    /// <paramref name="spareMacs"/> maps an interface's name to the placeholder address of the spare
    /// NIC that mirrors it (<see cref="SpareDevice"/>).
    /// </summary>
    public static ConfigureNetworkRequest Request(IReadOnlyList<HostInterface> interfaces, IReadOnlyList<HostRoute> routes,
        IReadOnlyDictionary<string, string>? spareMacs = null)
    {
        var request = new ConfigureNetworkRequest();
        foreach (HostInterface i in interfaces)
        {
            var nic = new NetworkInterface { Name = i.Name, MacAddress = i.Mac, Mtu = (uint)Math.Max(0, i.Mtu), Up = i.Up };
            if (spareMacs is not null && spareMacs.TryGetValue(i.Name, out string? placeholder))
            {
                nic.DeviceMac = placeholder;
            }
            nic.Addresses.AddRange(i.Addresses.Select(a => new IpAddress { Address = a.Address.ToString(), PrefixLength = (uint)a.PrefixLength }));
            request.Interfaces.Add(nic);
        }
        var names = interfaces.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        // On-link routes first: a gateway must be reachable when its route is added.
        foreach (HostRoute r in routes.Where(r => names.Contains(r.Device)).OrderBy(r => r.Gateway is null ? 0 : 1))
        {
            request.Routes.Add(new Route
            {
                // Defaults spelled out (0.0.0.0/0, ::/0): the family must not depend on a gateway.
                Destination = $"{r.Destination ?? (r.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any)}/{r.PrefixLength.ToString(CultureInfo.InvariantCulture)}",
                Gateway = r.Gateway?.ToString() ?? "",
                Device = r.Device,
                Source = r.Source?.ToString() ?? "",
                Metric = r.Metric,
            });
        }
        return request;
    }
}
