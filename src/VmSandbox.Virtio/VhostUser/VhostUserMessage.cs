namespace VmSandbox.Virtio.VhostUser;

/// <summary>Header constants of a vhost-user message: {u32 request; u32 flags; u32 size}.</summary>
internal static class VhostUserMessage
{
    public const int HeaderSize = 12;

    /// <summary>Larger than any payload QEMU sends (memory table: 8 + 32·8, config: 12 + 256).</summary>
    public const int MaxPayload = 4096;

    public const uint VersionMask = 0x3;
    public const uint Version = 0x1;
    public const uint ReplyFlag = 0x4;
    public const uint NeedReplyFlag = 0x8;

    /// <summary>QEMU's vhost_user_read_header wants exactly version 1 | REPLY.</summary>
    public const uint ReplyFlags = Version | ReplyFlag;

    public const ulong VringIndexMask = 0xff;
    public const ulong VringNoFdFlag = 0x100;
}
