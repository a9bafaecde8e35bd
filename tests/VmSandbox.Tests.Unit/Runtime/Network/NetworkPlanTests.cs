using System.Net;
using System.Net.Sockets;
using VmSandbox.Agent.Protocol;
using VmSandbox.Interop.Netlink;
using VmSandbox.Runtime.Network;
using Xunit;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Tests.Unit.Runtime.Network;

public sealed class NetworkPlanTests
{
    private static readonly byte[] s_vethMac = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];

    private static NetLink Lo => new(1, "lo", [0, 0, 0, 0, 0, 0], 65536, IFF_UP, null, ARPHRD_LOOPBACK);

    private static NetLink Veth(int index = 7, string name = "eth0", byte[]? mac = null) =>
        new(index, name, mac ?? s_vethMac, 1500, IFF_UP, "veth", ARPHRD_ETHER);

    private static NetAddress V4(int link, string a, int prefix) => new(link, AddressFamily.InterNetwork, IPAddress.Parse(a), prefix, RT_SCOPE_UNIVERSE, 0);

    private static NetAddress V6(int link, string a, int prefix) => new(link, AddressFamily.InterNetworkV6, IPAddress.Parse(a), prefix, RT_SCOPE_UNIVERSE, 0);

    private static NetRoute DefaultVia(string gw, int oif) => new()
    {
        Family = IPAddress.Parse(gw).AddressFamily,
        Gateway = IPAddress.Parse(gw),
        OutputLinkIndex = oif,
    };

    [Fact]
    public void Docker_bridge_namespace_mirrors_eth0_with_its_addresses_and_default_route()
    {
        NetnsSnapshot s = NetnsSnapshot.From(
            [Lo, Veth()],
            [V4(1, "127.0.0.1", 8), V4(7, "172.17.0.2", 16), V6(7, "2001:db8::2", 64), V6(7, "fe80::42:acff:fe11:2", 64)],
            [
                DefaultVia("172.17.0.1", 7),
                new NetRoute { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("172.17.0.0"), PrefixLength = 16, OutputLinkIndex = 7, Protocol = RTPROT_KERNEL, Scope = RT_SCOPE_LINK },
                DefaultVia("2001:db8::1", 7),
            ]);
        HostInterface eth0 = Assert.Single(s.Interfaces);
        Assert.Equal(("eth0", "02:42:ac:11:00:02", 1500, true), (eth0.Name, eth0.Mac, eth0.Mtu, eth0.Up));
        Assert.Equal(["172.17.0.2/16", "2001:db8::2/64"], eth0.Addresses.Select(a => $"{a.Address}/{a.PrefixLength}"));
        Assert.Equal(2, s.Routes.Count);
        Assert.Empty(s.OurTaps);

        ConfigureNetworkRequest r = NetworkPlan.Request(s.Interfaces, s.Routes);
        NetworkInterface nic = Assert.Single(r.Interfaces);
        Assert.Equal(("eth0", "02:42:ac:11:00:02", 1500u, true), (nic.Name, nic.MacAddress, nic.Mtu, nic.Up));
        Assert.Equal(["0.0.0.0/0 via 172.17.0.1 dev eth0", "::/0 via 2001:db8::1 dev eth0"], r.Routes.Select(x => $"{x.Destination} via {x.Gateway} dev {x.Device}"));
    }

    [Fact]
    public void A_spare_nic_boots_with_a_local_placeholder_address_and_the_agent_is_told_to_replace_it()
    {
        var spare = NetworkPlan.SpareDevice(0);
        Assert.Equal(("net0", "vmstap0", "02:00:00:00:00:00"), (spare.Id, spare.TapName, spare.Mac));
        NetnsSnapshot s = NetnsSnapshot.From([Lo, Veth()], [V4(7, "172.17.0.2", 16)], [DefaultVia("172.17.0.1", 7)]);

        NetworkInterface nic = Assert.Single(NetworkPlan.Request(s.Interfaces, s.Routes, new Dictionary<string, string> { ["eth0"] = spare.Mac }).Interfaces);
        Assert.Equal(("02:42:ac:11:00:02", "02:00:00:00:00:00"), (nic.MacAddress, nic.DeviceMac));
        // A NIC plugged for the interface itself is found by the interface's own address.
        Assert.Equal("", Assert.Single(NetworkPlan.Request(s.Interfaces, s.Routes).Interfaces).DeviceMac);
    }

    [Fact]
    public void Network_none_has_nothing_to_mirror()
    {
        NetnsSnapshot s = NetnsSnapshot.From([Lo], [V4(1, "127.0.0.1", 8)], []);
        Assert.Empty(s.Interfaces);
        Assert.Empty(s.Routes);
        Assert.Empty(NetworkPlan.Request(s.Interfaces, s.Routes).Interfaces);
    }

    [Fact]
    public void Taps_and_tun_devices_are_not_mirrored_and_ours_are_reported()
    {
        var tap = new NetLink(9, "vmstap0", [2, 0, 0, 0, 0, 9], 1500, IFF_UP, "tun", ARPHRD_ETHER);
        var foreignTun = new NetLink(10, "tun7", null, 1500, IFF_UP, "tun", ARPHRD_NONE);
        NetnsSnapshot s = NetnsSnapshot.From([Lo, Veth(), tap, foreignTun], [], []);
        Assert.Equal(["eth0"], s.Interfaces.Select(i => i.Name));
        Assert.Equal(["vmstap0"], s.OurTaps);
    }

    [Fact]
    public void On_link_routes_come_before_gateway_routes_and_other_devices_are_left_out()
    {
        NetnsSnapshot s = NetnsSnapshot.From(
            [Lo, Veth()],
            [],
            [
                DefaultVia("10.0.0.1", 7),
                new NetRoute { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("10.0.0.0"), PrefixLength = 24, OutputLinkIndex = 7, Scope = RT_SCOPE_LINK, Priority = 5 },
                new NetRoute { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("192.168.0.0"), PrefixLength = 16, OutputLinkIndex = 1, Scope = RT_SCOPE_LINK },
                new NetRoute { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("10.9.0.0"), PrefixLength = 16, OutputLinkIndex = 7, Type = RTN_BLACKHOLE },
            ]);
        ConfigureNetworkRequest r = NetworkPlan.Request(s.Interfaces, s.Routes);
        Assert.Equal(["10.0.0.0/24 via  dev eth0 metric 5", "0.0.0.0/0 via 10.0.0.1 dev eth0 metric 0"],
            r.Routes.Select(x => $"{x.Destination} via {x.Gateway} dev {x.Device} metric {x.Metric}"));
    }

    [Fact]
    public void New_interfaces_are_those_no_nic_mirrors_yet()
    {
        NetnsSnapshot first = NetnsSnapshot.From([Lo, Veth()], [], []);
        NetnsSnapshot later = NetnsSnapshot.From([Lo, Veth(), Veth(8, "eth1", [2, 0, 0, 0, 0, 8])], [], []);
        IReadOnlyList<HostInterface> added = NetworkPlan.NewInterfaces(later, first.Interfaces);
        Assert.Equal(["eth1"], added.Select(i => i.Name));
        Assert.Equal("vmstap1", NetworkPlan.DeviceFor(added[0], 1).TapName);
        Assert.Equal("02:00:00:00:00:08", NetworkPlan.DeviceFor(added[0], 1).Mac);
        // A veth recreated under the same name with another MAC is new too.
        Assert.Single(NetworkPlan.NewInterfaces(NetnsSnapshot.From([Veth(mac: [2, 1, 1, 1, 1, 1])], [], []), first.Interfaces));
    }

    [Fact]
    public void Every_spare_nics_placeholder_address_is_one_the_guest_agent_parks()
    {
        for (int slot = 0; slot < 8; slot++)
        {
            Assert.True(VmSandbox.Agent.Network.SpareNics.IsPlaceholder(NetworkPlan.SpareDevice(slot).Mac), NetworkPlan.SpareDevice(slot).Mac);
        }
        Assert.False(VmSandbox.Agent.Network.SpareNics.IsPlaceholder("02:42:ac:11:00:02")); // Docker's
    }
}
