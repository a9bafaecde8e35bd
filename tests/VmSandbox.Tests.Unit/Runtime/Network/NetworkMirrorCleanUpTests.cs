using VmSandbox.Runtime.Network;
using VmSandbox.Tests.Unit.Interop.Netlink;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime.Network;

/// <summary>
/// `delete` after a monitor that died before its own clean-up: a namespace that outlives the
/// container (CNI's, podman's) keeps none of the mirroring's qdiscs and filters.
/// </summary>
public sealed class NetworkMirrorCleanUpTests
{
    [Fact]
    public void A_dead_sandboxs_filters_are_removed_and_a_live_ones_are_kept()
    {
        if (ScratchNetns.SkipReason() is string reason)
        {
            Assert.Skip(reason);
        }
        using ScratchNetns ns = ScratchNetns.Create();
        ns.Ip("link add eth0 type veth peer name peer0");
        ns.Tc("qdisc add dev eth0 ingress");
        ns.Tc("filter add dev eth0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev peer0");
        var log = new List<string>();

        // A tap of ours is still there: a live sandbox serves the namespace; hands off.
        ns.Ip("tuntap add mode tap " + NetnsSnapshot.TapPrefix + "0");
        NetworkMirror.CleanUpNamespace(ns.Path, log.Add);
        Assert.Contains("ingress", ns.Tc("qdisc show dev eth0"), StringComparison.Ordinal);

        // QEMU (and with it the tap) is gone: what the monitor left goes.
        ns.Ip("link del " + NetnsSnapshot.TapPrefix + "0");
        NetworkMirror.CleanUpNamespace(ns.Path, log.Add);
        Assert.DoesNotContain("ingress", ns.Tc("qdisc show dev eth0"), StringComparison.Ordinal);
        Assert.Equal("", ns.Tc("filter show dev eth0 ingress").Trim());
        Assert.Contains(log, l => l.Contains("eth0", StringComparison.Ordinal));

        // Again, and for a namespace that is gone: nothing to do, no error.
        NetworkMirror.CleanUpNamespace(ns.Path, log.Add);
        NetworkMirror.CleanUpNamespace("/run/netns/vmsb-no-such-namespace", log.Add);
    }
}
