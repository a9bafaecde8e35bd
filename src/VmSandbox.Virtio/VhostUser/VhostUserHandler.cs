using System.Buffers.Binary;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Virtio.VhostUser;

/// <summary>
/// The back-end side of the vhost-user protocol, for any device (QEMU
/// docs/interop/vhost-user.rst): feature negotiation, the memory table, ring set-up and the
/// ring state machine. Collaborators: <see cref="VhostUserChannel"/> frames messages; the
/// <see cref="IVhostUserDevice"/> (e.g. the vsock device) owns the rings and the data path.
/// Each message is handled under the device lock, so the data path never sees a half-applied
/// change (e.g. a memory table being swapped). Any protocol violation throws; the caller then closes the connection and
/// <see cref="Dispose"/> releases every fd and mapping.
/// </summary>
public sealed partial class VhostUserHandler : IDisposable
{
    private readonly VhostUserChannel _channel;
    private readonly IVhostUserDevice _device;
    private readonly Action<string>? _log;
    private MemoryTable _memory = MemoryTable.Empty;
    private ulong _ackedFeatures;
    private ulong _ackedProtocolFeatures;

    public VhostUserHandler(VhostUserChannel channel, IVhostUserDevice device, Action<string>? log)
    {
        _channel = channel;
        _device = device;
        _log = log;
    }

    public ulong AckedFeatures => _ackedFeatures;

    public int MappedRegionCount => _memory.MappingCount;

    /// <summary>Handles messages until the front-end disconnects.</summary>
    public void Run()
    {
        while (_channel.TryReceive())
        {
            try
            {
                lock (_device.Gate)
                {
                    HandleOne();
                }
            }
            finally
            {
                _channel.ReleaseFds();
            }
            _device.Wake();
        }
    }

    /// <summary>Dispatches the message the channel holds (caller holds the gate).</summary>
    internal void HandleOne()
    {
        VhostUserRequest request = _channel.Request;
        ReadOnlySpan<byte> p = _channel.Payload;
        bool hasReply = true;
        switch (request)
        {
            case VhostUserRequest.GetFeatures:
                _channel.ReplyU64(VhostUserFeatures.Offered);
                break;
            case VhostUserRequest.GetProtocolFeatures:
                _channel.ReplyU64(VhostUserFeatures.OfferedProtocol);
                break;
            case VhostUserRequest.GetVringBase:
                ReplyVringBase(p);
                break;
            case VhostUserRequest.GetConfig:
                ReplyConfig(p);
                break;
            default:
                hasReply = false;
                Apply(request, p);
                break;
        }
        // REPLY_ACK: a NEED_REPLY message without its own reply gets a u64 status (0 = ok).
        if (!hasReply && (_channel.Flags & VhostUserMessage.NeedReplyFlag) != 0
            && VhostUserFeatures.Has(_ackedProtocolFeatures, VhostUserFeatures.ReplyAckBit))
        {
            _channel.ReplyU64(0);
        }
    }

    public void Dispose()
    {
        lock (_device.Gate)
        {
            foreach (Vring vring in _device.Vrings)
            {
                _device.SetKick(vring, null);
                vring.Dispose();
            }
            _device.Reset();
            _memory.Dispose();
            _memory = MemoryTable.Empty;
        }
    }

    private void Apply(VhostUserRequest request, ReadOnlySpan<byte> p)
    {
        switch (request)
        {
            case VhostUserRequest.SetFeatures:
                SetFeatures(ReadU64(p));
                break;
            case VhostUserRequest.SetProtocolFeatures:
                ulong protocol = ReadU64(p);
                if ((protocol & ~VhostUserFeatures.OfferedProtocol) != 0)
                {
                    throw VhostUserProtocol.Error($"set_protocol_features: 0x{protocol:x} has bits we did not offer");
                }
                _ackedProtocolFeatures = protocol;
                break;
            case VhostUserRequest.SetOwner:
                ExpectSize(p, 0);
                break;
            case VhostUserRequest.ResetOwner:
                // Deprecated: treat as a device reset.
                StopAllRings();
                break;
            case VhostUserRequest.SetMemTable:
                SetMemTable(p);
                break;
            case VhostUserRequest.SetLogFd:
                // Migration logging is not offered; the fd is closed by ReleaseFds.
                break;
            case VhostUserRequest.SetVringNum:
            case VhostUserRequest.SetVringAddr:
            case VhostUserRequest.SetVringBase:
            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
            case VhostUserRequest.SetVringEnable:
                ApplyVring(request, p);
                break;
            default:
                throw VhostUserProtocol.Error($"unsupported request {(uint)request}");
        }
    }

    private void SetFeatures(ulong features)
    {
        if ((features & ~VhostUserFeatures.Offered) != 0)
        {
            throw VhostUserProtocol.Error($"set_features: 0x{features:x} has bits we did not offer");
        }
        _ackedFeatures = features;
        if (!VhostUserFeatures.Has(features, VhostUserFeatures.ProtocolFeaturesBit))
        {
            // rst "Ring states": without PROTOCOL_FEATURES rings are enabled right away.
            foreach (Vring vring in _device.Vrings)
            {
                vring.Enabled = true;
            }
        }
    }

    private void SetMemTable(ReadOnlySpan<byte> p)
    {
        Span<SafeFd> fds = new SafeFd[_channel.FdCount];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = _channel.TakeFd(i);
        }
        MemoryTable table;
        try
        {
            table = MemoryTable.Map(p, fds);
        }
        finally
        {
            // The mappings keep the memory alive; the fds are no longer needed (libvhost-user).
            foreach (SafeFd fd in fds)
            {
                fd.Dispose();
            }
        }
        MemoryTable old = _memory;
        _memory = table;
        // Rings hold pointers into the old mappings: re-translate before unmapping them.
        foreach (Vring vring in _device.Vrings)
        {
            if (vring.Started)
            {
                Activate(vring);
            }
            else
            {
                vring.Queue.Deactivate();
            }
        }
        old.Dispose();
        _log?.Invoke($"vhost-user: memory table with {table.MappingCount} regions");
    }

    private void StopAllRings()
    {
        foreach (Vring vring in _device.Vrings)
        {
            _device.SetKick(vring, null);
            vring.Started = false;
            vring.Queue.Deactivate();
        }
    }

    private static ulong ReadU64(ReadOnlySpan<byte> p)
    {
        ExpectSize(p, 8);
        return BinaryPrimitives.ReadUInt64LittleEndian(p);
    }

    private static void ExpectSize(ReadOnlySpan<byte> p, int size)
    {
        if (p.Length != size)
        {
            throw new VmSandboxException(ErrorCode.Protocol, $"vhost-user: payload of {p.Length} bytes, expected {size}");
        }
    }
}
