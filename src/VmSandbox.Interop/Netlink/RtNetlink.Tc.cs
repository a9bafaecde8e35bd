using VmSandbox.Common;
using static VmSandbox.Interop.Netlink.RtnetlinkConstants;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// Traffic control for the host side of networking: Kata's tc mirroring, in which each of the
/// veth and the tap redirects everything that arrives on its ingress to the other's egress.
/// </summary>
public sealed partial class RtNetlink
{
    private const int ENOENT = 2;
    private const int EINVAL = 22;

    /// <summary>`tc qdisc add dev X ingress`.</summary>
    public void AddIngressQdisc(int index) =>
        Transact("RTM_NEWQDISC", $"ingress dev {index}", (b, seq) => NetlinkRequests.IngressQdisc(b, seq, RTM_NEWQDISC, index));

    /// <summary>
    /// `tc qdisc del dev X ingress`, which removes its filters too. Returns false when there was
    /// no ingress qdisc (the kernel says ENOENT or EINVAL); a missing link still throws (ENODEV).
    /// </summary>
    public bool DeleteIngressQdisc(int index)
    {
        try
        {
            Transact("RTM_DELQDISC", $"ingress dev {index}", (b, seq) => NetlinkRequests.IngressQdisc(b, seq, RTM_DELQDISC, index));
            return true;
        }
        catch (VmSandboxException e) when (e.Errno is ENOENT or EINVAL)
        {
            return false;
        }
    }

    /// <summary>
    /// `tc filter add dev FROM parent ffff: protocol all u32 match u8 0 0 action mirred egress
    /// redirect dev TO`; FROM needs its ingress qdisc first.
    /// </summary>
    public void AddMirredRedirect(int fromIndex, int toIndex) =>
        Transact("RTM_NEWTFILTER", $"u32 mirred redirect dev {fromIndex} to dev {toIndex}", (b, seq) => NetlinkRequests.MirredRedirect(b, seq, fromIndex, toIndex));
}
