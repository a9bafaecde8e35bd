namespace VmSandbox.Virtio.VhostUser;

/// <summary>Feature bits this back-end offers (protocols.md §1.4, §2).</summary>
internal static class VhostUserFeatures
{
    public const int IndirectDescBit = 28;
    public const int EventIdxBit = 29;
    public const int ProtocolFeaturesBit = 30;
    public const int Version1Bit = 32;

    /// <summary>VERSION_1 | PROTOCOL_FEATURES | EVENT_IDX | INDIRECT_DESC; no PACKED, IN_ORDER, SEQPACKET.</summary>
    public const ulong Offered = (1UL << Version1Bit) | (1UL << ProtocolFeaturesBit) | (1UL << EventIdxBit) | (1UL << IndirectDescBit);

    public const int ReplyAckBit = 3;
    public const int ConfigBit = 9;

    /// <summary>CONFIG (QEMU's vhost-user-vsock requires it) | REPLY_ACK.</summary>
    public const ulong OfferedProtocol = (1UL << ConfigBit) | (1UL << ReplyAckBit);

    public static bool Has(ulong features, int bit)
    {
        return (features & (1UL << bit)) != 0;
    }
}
