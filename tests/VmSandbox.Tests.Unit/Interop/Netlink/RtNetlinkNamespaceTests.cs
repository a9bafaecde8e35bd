using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using VmSandbox.Common;
using VmSandbox.Interop.Netlink;
using Xunit;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Tests.Unit.Interop.Netlink;

/// <summary>
/// RtNetlink against the real kernel, in a namespace made for each test (root only; skipped
/// otherwise): what it reads must be what `ip -j` shows, what it writes must be what `ip` then
/// shows, and its tc mirroring must be indistinguishable from the `tc` command line's.
/// </summary>
public sealed class RtNetlinkNamespaceTests
{
    private static ScratchNetns CreateOrSkip()
    {
        if (ScratchNetns.SkipReason() is string reason)
        {
            Assert.Skip(reason);
        }
        try
        {
            return ScratchNetns.Create();
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("ip netns add", StringComparison.Ordinal))
        {
            // Root without CAP_SYS_ADMIN (a default Docker container) cannot make namespaces.
            Assert.Skip($"cannot create a network namespace here: {e.Message}");
            throw;
        }
    }

    private static int IndexOf(ScratchNetns ns, string name) => (int)ns.IpJson($"link show dev {name}")[0]!["ifindex"]!;

    [Fact]
    public void Reads_match_ip()
    {
        using ScratchNetns ns = CreateOrSkip();
        ns.Ip("link add va type veth peer name vb");
        ns.Ip("tuntap add mode tap tap0");
        ns.Ip("link set va mtu 1400");
        ns.Ip("link set va up");
        ns.Ip("link set vb up");
        ns.Ip("addr add 10.20.0.2/24 dev va");
        ns.Ip("-6 addr add fd20::2/64 dev va nodad");
        ns.Ip("route add default via 10.20.0.1 dev va metric 7");
        ns.Ip("route add 10.21.0.0/16 via 10.20.0.9 dev va src 10.20.0.2");
        ns.Ip("-6 route add default via fd20::1 dev va");

        using var nl = RtNetlink.OpenInNamespace(ns.Path);
        IReadOnlyList<NetLink> links = nl.GetLinks();
        IReadOnlyList<NetAddress> addresses = nl.GetAddresses();
        IReadOnlyList<NetRoute> routes = nl.GetRoutes();

        JsonArray ipLinks = ns.IpJson("-d link show").AsArray();
        Assert.Equal(ipLinks.Count, links.Count);
        foreach (JsonNode? l in ipLinks)
        {
            NetLink link = Assert.Single(links, x => x.Index == (int)l!["ifindex"]!);
            Assert.Equal((string)l!["ifname"]!, link.Name);
            Assert.Equal((int)l["mtu"]!, link.Mtu);
            Assert.Equal((string?)l["address"], link.MacString);
            Assert.Equal(l["flags"]!.AsArray().Any(f => (string?)f == "UP"), link.IsUp);
            Assert.Equal((string?)l["linkinfo"]?["info_kind"], link.Kind);
            Assert.Equal((string)l["link_type"]! == "loopback" ? ARPHRD_LOOPBACK : ARPHRD_ETHER, link.LinkType);
        }
        Assert.Equal("veth", links.Single(l => l.Name == "va").Kind);
        Assert.Equal("tun", links.Single(l => l.Name == "tap0").Kind);

        IEnumerable<string> ipAddresses = ns.IpJson("addr show").AsArray()
            .SelectMany(l => l!["addr_info"]!.AsArray().Select(a => $"{(int)l["ifindex"]!} {(string)a!["local"]!}/{(int)a["prefixlen"]!} {(string)a["scope"]!}"));
        Assert.Equal(ipAddresses.Order(), addresses.Select(a => $"{a.LinkIndex} {a.Address}/{a.PrefixLength} {ScopeName(a.Scope)}").Order());
        Assert.Contains(addresses, a => a.Family == AddressFamily.InterNetworkV6 && (a.Flags & IFA_F_NODAD) != 0);

        var names = links.ToDictionary(l => l.Index, l => l.Name);
        IEnumerable<string> ipRoutes = ns.IpJson("route show").AsArray().Concat(ns.IpJson("-6 route show").AsArray())
            .Select(r => $"{(string)r!["dst"]!} via {(string?)r["gateway"]} dev {(string)r["dev"]!} metric {(int?)r["metric"] ?? 0} src {(string?)r["prefsrc"]} scope {(string?)r["scope"] ?? "global"}");
        Assert.Equal(ipRoutes.Order(), routes.Select(r => $"{(r.Destination is null ? "default" : $"{r.Destination}/{r.PrefixLength}")} via {r.Gateway} dev {names[r.OutputLinkIndex]} metric {r.Priority} src {r.PreferredSource} scope {ScopeName(r.Scope)}").Order());
        Assert.All(routes, r => Assert.Equal(RTN_UNICAST, r.Type));
    }

    [Fact]
    public void Dumps_spanning_many_datagrams_are_read_whole()
    {
        using ScratchNetns ns = CreateOrSkip();
        // ~1 KiB per link message and ~32 KiB per dump datagram: 300 links take a dozen datagrams.
        // (veth pairs: the kernel here has no dummy driver.)
        ns.IpBatch(Enumerable.Range(0, 150).SelectMany(i => (string[])[$"link add a{i} type veth peer name b{i}", $"addr add 10.{i / 250}.{i % 250}.1/32 dev a{i}", $"addr add 10.{i / 250}.{i % 250}.2/32 dev b{i}"]));
        using var nl = RtNetlink.OpenInNamespace(ns.Path);
        IReadOnlyList<NetLink> links = nl.GetLinks();
        Assert.Equal(301, links.Count);
        Assert.Equal(300, links.Count(l => l.Kind == "veth"));
        Assert.Equal(links.Count, links.Select(l => l.Index).Distinct().Count());
        Assert.Equal(300, nl.GetAddresses().Count(a => a.Family == AddressFamily.InterNetwork));
    }

    [Fact]
    public void A_link_moves_to_another_namespace_and_back_keeping_its_address()
    {
        // The guest agent parks microvm's spare NICs this way (SpareNics).
        using ScratchNetns home = CreateOrSkip();
        using ScratchNetns parking = ScratchNetns.Create();
        home.Ip("link add va type veth peer name vb");
        home.Ip("link set vb address 02:00:00:00:00:01");
        int index = IndexOf(home, "vb");
        using var nl = RtNetlink.OpenInNamespace(home.Path);
        using (var parkingFd = VmSandbox.Interop.SafeFd.Open(parking.Path, VmSandbox.Interop.FileSystemCalls.O_RDONLY | VmSandbox.Interop.FileSystemCalls.O_CLOEXEC))
        {
            nl.SetLinkNamespace(index, parkingFd.Fd);
        }
        Assert.DoesNotContain(nl.GetLinks(), l => l.MacString == "02:00:00:00:00:01");
        using var parked = RtNetlink.OpenInNamespace(parking.Path);
        NetLink moved = Assert.Single(parked.GetLinks(), l => l.MacString == "02:00:00:00:00:01");
        Assert.Equal("vb", moved.Name);

        using (var homeFd = VmSandbox.Interop.SafeFd.Open(home.Path, VmSandbox.Interop.FileSystemCalls.O_RDONLY | VmSandbox.Interop.FileSystemCalls.O_CLOEXEC))
        {
            parked.SetLinkNamespace(moved.Index, homeFd.Fd);
        }
        Assert.Single(nl.GetLinks(), l => l.MacString == "02:00:00:00:00:01" && l.Name == "vb");
        Assert.DoesNotContain(parked.GetLinks(), l => l.MacString == "02:00:00:00:00:01");
    }

    [Fact]
    public void Writes_are_what_ip_then_shows()
    {
        using ScratchNetns ns = CreateOrSkip();
        ns.Ip("link add va type veth peer name vb");
        ns.Ip("link set va up");
        int index = IndexOf(ns, "vb");
        using var nl = RtNetlink.OpenInNamespace(ns.Path);

        nl.SetLinkName(index, "eth1");
        nl.SetLinkMac(index, [0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc]);
        nl.SetLinkMtu(index, 1450);
        nl.SetLinkUp(index, true);
        nl.AddAddress(index, IPAddress.Parse("10.30.0.2"), 24);
        nl.AddAddress(index, IPAddress.Parse("fd30::2"), 64);
        nl.AddRoute(new NetRoute { Family = AddressFamily.InterNetwork, Gateway = IPAddress.Parse("10.30.0.1"), OutputLinkIndex = index });
        nl.AddRoute(new NetRoute { Family = AddressFamily.InterNetworkV6, Gateway = IPAddress.Parse("fd30::1"), OutputLinkIndex = index });
        nl.AddRoute(new NetRoute { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("10.40.0.0"), PrefixLength = 16, OutputLinkIndex = index, Scope = RT_SCOPE_LINK });

        JsonNode link = ns.IpJson("link show dev eth1")[0]!;
        Assert.Equal(index, (int)link["ifindex"]!);
        Assert.Equal("02:00:00:aa:bb:cc", (string)link["address"]!);
        Assert.Equal(1450, (int)link["mtu"]!);
        Assert.Contains("UP", link["flags"]!.AsArray().Select(f => (string?)f));

        JsonArray addresses = ns.IpJson("addr show dev eth1")[0]!["addr_info"]!.AsArray();
        Assert.Contains(addresses, a => (string)a!["local"]! == "10.30.0.2" && (int)a["prefixlen"]! == 24);
        JsonNode v6 = Assert.Single(addresses, a => (string)a!["local"]! == "fd30::2")!;
        Assert.Equal(64, (int)v6["prefixlen"]!);
        Assert.True((bool?)v6["nodad"]);
        Assert.Null(v6["tentative"]); // usable at once

        string routes = ns.Ip("route show") + ns.Ip("-6 route show");
        // `ip route show` leaves out "proto boot", the protocol `ip route add` uses too.
        Assert.Contains("default via 10.30.0.1 dev eth1 \n", routes, StringComparison.Ordinal);
        Assert.Contains("10.40.0.0/16 dev eth1 scope link \n", routes, StringComparison.Ordinal);
        Assert.Contains("default via fd30::1 dev eth1 metric 1024 ", routes, StringComparison.Ordinal);

        // What the agent reads back is what it wrote.
        NetLink read = Assert.Single(nl.GetLinks(), l => l.Index == index);
        Assert.Equal(("eth1", "02:00:00:aa:bb:cc", 1450, true), (read.Name, read.MacString, read.Mtu, read.IsUp));
    }

    [Fact]
    public void Kernel_errors_name_the_request_and_errno()
    {
        using ScratchNetns ns = CreateOrSkip();
        ns.Ip("link add va type veth peer name vb");
        ns.Ip("link set va up");
        ns.Ip("addr add 10.50.0.2/24 dev va");
        int index = IndexOf(ns, "va");
        using var nl = RtNetlink.OpenInNamespace(ns.Path);

        var taken = Assert.Throws<VmSandboxException>(() => nl.SetLinkName(index, "vb"));
        Assert.Equal(17, taken.Errno); // EEXIST: the peer has that name
        Assert.StartsWith($"RTM_NEWLINK link {index} name vb: file exists (errno 17)", taken.Message, StringComparison.Ordinal);

        var exists = Assert.Throws<VmSandboxException>(() => nl.AddAddress(index, IPAddress.Parse("10.50.0.2"), 24));
        Assert.Equal(17, exists.Errno);

        var route = new NetRoute { Family = AddressFamily.InterNetwork, Gateway = IPAddress.Parse("10.50.0.1"), OutputLinkIndex = index };
        nl.AddRoute(route);
        var again = Assert.Throws<VmSandboxException>(() => nl.AddRoute(route));
        Assert.Equal(17, again.Errno);
        Assert.StartsWith($"RTM_NEWROUTE default via 10.50.0.1 dev {index}: file exists (errno 17)", again.Message, StringComparison.Ordinal);

        var noDevice = Assert.Throws<VmSandboxException>(() => nl.SetLinkMtu(9999, 1500));
        Assert.Equal(19, noDevice.Errno); // ENODEV
    }

    [Fact]
    public void Tc_mirroring_is_what_the_tc_command_line_makes_and_deleting_it_leaves_nothing()
    {
        using ScratchNetns ns = CreateOrSkip();
        ns.Ip("link add va type veth peer name vb");
        ns.Ip("tuntap add mode tap tap0");
        int tap = IndexOf(ns, "tap0");
        int veth = IndexOf(ns, "va");
        using var nl = RtNetlink.OpenInNamespace(ns.Path);

        nl.AddIngressQdisc(tap);
        nl.AddMirredRedirect(tap, veth);
        string ourQdisc = ns.TcJson("qdisc show dev tap0").ToJsonString();
        string ourFilter = WithoutActionIndex(ns.TcJson("filter show dev tap0 ingress"));
        Assert.True(nl.DeleteIngressQdisc(tap));

        ns.Tc("qdisc add dev tap0 ingress");
        ns.Tc("filter add dev tap0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev va");
        Assert.Equal(ns.TcJson("qdisc show dev tap0").ToJsonString(), ourQdisc);
        Assert.Equal(WithoutActionIndex(ns.TcJson("filter show dev tap0 ingress")), ourFilter);
        Assert.Contains("\"to_dev\":\"va\"", ourFilter, StringComparison.Ordinal);
        Assert.Contains("\"mirred_action\":\"redirect\"", ourFilter, StringComparison.Ordinal);

        // The other direction too, as Kata sets it up, then tear both down.
        nl.AddIngressQdisc(veth);
        nl.AddMirredRedirect(veth, tap);
        Assert.Contains("\"to_dev\":\"tap0\"", ns.Tc("-j filter show dev va ingress"), StringComparison.Ordinal);
        Assert.True(nl.DeleteIngressQdisc(tap)); // the one tc made
        Assert.True(nl.DeleteIngressQdisc(veth));

        foreach (string dev in (string[])["tap0", "va"])
        {
            Assert.Equal("[]", ns.TcJson($"filter show dev {dev} ingress").ToJsonString());
            Assert.DoesNotContain("ingress", ns.Tc($"qdisc show dev {dev}"), StringComparison.Ordinal);
        }
        Assert.False(nl.DeleteIngressQdisc(tap));
        Assert.Throws<VmSandboxException>(() => nl.DeleteIngressQdisc(9999)); // no such link: not "nothing there"
    }

    [Fact]
    public void Host_port_pass_and_neighbour_mirror_are_what_the_tc_command_line_makes()
    {
        using ScratchNetns ns = CreateOrSkip();
        ns.Ip("link add va type veth peer name vb");
        ns.Ip("tuntap add mode tap tap0");
        int tap = IndexOf(ns, "tap0");
        int veth = IndexOf(ns, "va");
        using var nl = RtNetlink.OpenInNamespace(ns.Path);

        nl.AddIngressQdisc(veth);
        nl.AddPortPass(veth, 1, 0xF000, 0xF000);
        nl.AddNeighbourMirror(veth, tap, 3);
        // Text, not -j: tc's JSON repeats the "match" key for a filter with several keys.
        string ours = WithoutActionIndexText(ns.Tc("filter show dev va ingress"));
        Assert.True(nl.DeleteIngressQdisc(veth));

        ns.Tc("qdisc add dev va ingress");
        foreach (string proto in (string[])["6", "17"])
        {
            ns.Tc($"filter add dev va parent ffff: prio 1 protocol ip u32 match ip protocol {proto} 0xff match ip dport 0xf000 0xf000 flowid 1:1");
        }
        foreach (string proto in (string[])["6", "17"])
        {
            ns.Tc($"filter add dev va parent ffff: prio 2 protocol ipv6 u32 match ip6 protocol {proto} 0xff match ip6 dport 0xf000 0xf000 flowid 1:1");
        }
        ns.Tc("filter add dev va parent ffff: prio 3 protocol arp u32 match u8 0 0 action mirred egress mirror dev tap0 pass");
        foreach (string type in (string[])["135", "136"])
        {
            ns.Tc($"filter add dev va parent ffff: prio 4 protocol ipv6 u32 match ip6 protocol 58 0xff match u8 {type} 0xff at 40 action mirred egress mirror dev tap0 pass");
        }
        Assert.Equal(WithoutActionIndexText(ns.Tc("filter show dev va ingress")), ours);
        Assert.Contains("(Egress Mirror to device tap0) pass", ours, StringComparison.Ordinal);
        Assert.Contains("match 0000f000/0000f000 at 40", ours, StringComparison.Ordinal);
    }

    /// <summary>tc's text listing without the action index lines (the kernel numbers actions as they come).</summary>
    private static string WithoutActionIndexText(string listing) =>
        string.Join('\n', listing.Split('\n').Where(l => !l.TrimStart().StartsWith("index ", StringComparison.Ordinal)));

    [Fact]
    public void Opening_in_a_namespace_leaves_the_calling_threads_namespace_alone()
    {
        using ScratchNetns ns = CreateOrSkip();
        string before = NetnsOfThisThread();
        using (var nl = RtNetlink.OpenInNamespace(ns.Path))
        {
            Assert.Equal(["lo"], nl.GetLinks().Select(l => l.Name));
        }
        Assert.Equal(before, NetnsOfThisThread());
        var e = Assert.Throws<VmSandboxException>(() => RtNetlink.OpenInNamespace("/run/netns/vmsb-nl-does-not-exist"));
        Assert.Equal(2, e.Errno);
    }

    private static string NetnsOfThisThread() => File.ResolveLinkTarget("/proc/thread-self/ns/net", returnFinalTarget: false)!.FullName;

    private static string ScopeName(byte scope) => scope switch
    {
        RT_SCOPE_UNIVERSE => "global",
        RT_SCOPE_LINK => "link",
        RT_SCOPE_HOST => "host",
        _ => scope.ToString(),
    };

    /// <summary>The action index counts up per namespace, so it differs between two otherwise equal filters.</summary>
    private static string WithoutActionIndex(JsonNode filters)
    {
        foreach (JsonNode? f in filters.AsArray())
        {
            if (f?["options"]?["actions"] is JsonArray actions)
            {
                foreach (JsonNode? a in actions)
                {
                    a!.AsObject().Remove("index");
                }
            }
        }
        return filters.ToJsonString();
    }
}
