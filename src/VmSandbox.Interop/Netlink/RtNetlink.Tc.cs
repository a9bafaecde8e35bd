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

    /// <summary>
    /// Lets TCP and UDP frames for destination ports of <paramref name="portPrefix"/> (under
    /// <paramref name="portMask"/>) reach <paramref name="index"/>'s own stack instead of the
    /// redirect: `tc filter add dev X parent ffff: prio P protocol ip u32 match ip protocol 6 0xff
    /// match ip dport PREFIX MASK action pass`, for TCP and UDP, IPv4 (priority P) and IPv6
    /// (priority P+1: one priority holds one protocol), no IPv6 extension headers.
    /// </summary>
    public void AddPortPass(int index, ushort prio, ushort portPrefix, ushort portMask)
    {
        foreach (byte ipProtocol in (byte[])[6, 17])
        {
            // IPv4 (20-byte header): protocol is byte 9, the destination port bytes 22-23.
            tc_u32_key[] v4 =
            [
                Key(8, 0x00FF0000, (uint)ipProtocol << 16),
                Key(20, portMask, portPrefix),
            ];
            // IPv6: next header is byte 6, the destination port bytes 42-43.
            tc_u32_key[] v6 =
            [
                Key(4, 0x0000FF00, (uint)ipProtocol << 8),
                Key(40, portMask, portPrefix),
            ];
            Transact("RTM_NEWTFILTER", $"u32 pass ip proto {ipProtocol} dport {portPrefix}/{portMask} dev {index}",
                (b, seq) => NetlinkRequests.U32Pass(b, seq, index, prio, TcConstants.ETH_P_IP, v4));
            Transact("RTM_NEWTFILTER", $"u32 pass ip6 proto {ipProtocol} dport {portPrefix}/{portMask} dev {index}",
                (b, seq) => NetlinkRequests.U32Pass(b, seq, index, (ushort)(prio + 1), TcConstants.ETH_P_IPV6, v6));
        }
    }

    /// <summary>
    /// Neighbour resolution for both stacks behind one MAC: ARP, and ICMPv6 neighbour
    /// solicitations and advertisements (types 135, 136), arriving on <paramref name="fromIndex"/>
    /// are copied to <paramref name="toIndex"/>'s egress and also go on to
    /// <paramref name="fromIndex"/>'s own stack (`… action mirred egress mirror dev TO pass`).
    /// </summary>
    public void AddNeighbourMirror(int fromIndex, int toIndex, ushort prio)
    {
        Transact("RTM_NEWTFILTER", $"u32 arp mirror dev {fromIndex} to dev {toIndex}",
            (b, seq) => NetlinkRequests.Mirred(b, seq, fromIndex, toIndex, prio, TcConstants.ETH_P_ARP, TcConstants.TCA_EGRESS_MIRROR, TcConstants.TC_ACT_OK, [default]));
        foreach (uint type in (uint[])[135, 136])
        {
            // Next header 58 (ICMPv6, byte 6) and the ICMPv6 type (byte 40).
            tc_u32_key[] keys = [Key(4, 0x0000FF00, 58u << 8), Key(40, 0xFF000000, type << 24)];
            Transact("RTM_NEWTFILTER", $"u32 icmpv6 type {type} mirror dev {fromIndex} to dev {toIndex}",
                (b, seq) => NetlinkRequests.Mirred(b, seq, fromIndex, toIndex, (ushort)(prio + 1), TcConstants.ETH_P_IPV6, TcConstants.TCA_EGRESS_MIRROR, TcConstants.TC_ACT_OK, keys));
        }
    }

    /// <summary>A u32 key over the 32-bit word at <paramref name="offset"/>, mask and value given in host order.</summary>
    private static tc_u32_key Key(int offset, uint mask, uint value) => new()
    {
        mask = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(mask),
        val = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value & mask),
        off = offset,
    };
}
