using System.Buffers.Binary;
using VmSandbox.Interop;

namespace VmSandbox.Virtio.VhostUser;

public sealed partial class VhostUserHandler
{
    private void ApplyVring(VhostUserRequest request, ReadOnlySpan<byte> p)
    {
        switch (request)
        {
            case VhostUserRequest.SetVringNum:
                {
                    Vring vring = VringFromState(p, out uint num);
                    if (!vring.Queue.TrySetSize(num))
                    {
                        throw VhostUserProtocol.Error($"set_vring_num: bad size {num}");
                    }
                    break;
                }
            case VhostUserRequest.SetVringBase:
                {
                    Vring vring = VringFromState(p, out uint num);
                    if (num > ushort.MaxValue)
                    {
                        throw VhostUserProtocol.Error($"set_vring_base: bad index {num}");
                    }
                    vring.Queue.SetBase((ushort)num);
                    break;
                }
            case VhostUserRequest.SetVringEnable:
                {
                    Vring vring = VringFromState(p, out uint num);
                    vring.Enabled = num != 0;
                    break;
                }
            case VhostUserRequest.SetVringAddr:
                SetVringAddr(p);
                break;
            case VhostUserRequest.SetVringKick:
                {
                    Vring vring = VringFromFdMessage(p, out SafeFd? fd);
                    _device.SetKick(vring, fd);
                    // rst "Ring states": the kick fd starts the ring.
                    vring.Started = true;
                    Activate(vring);
                    break;
                }
            case VhostUserRequest.SetVringCall:
                {
                    Vring vring = VringFromFdMessage(p, out SafeFd? fd);
                    vring.ReplaceCall(fd);
                    break;
                }
            case VhostUserRequest.SetVringErr:
                {
                    Vring vring = VringFromFdMessage(p, out SafeFd? fd);
                    vring.ReplaceErr(fd);
                    break;
                }
        }
    }

    /// <summary>GET_VRING_BASE stops the ring and reports the next avail index to process.</summary>
    private void ReplyVringBase(ReadOnlySpan<byte> p)
    {
        Vring vring = VringFromState(p, out _);
        _device.SetKick(vring, null);
        vring.Started = false;
        vring.Queue.Deactivate();
        // rust-vmm drops the call fd here too; QEMU sends a new one on the next start.
        vring.ReplaceCall(null);
        Span<byte> reply = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(reply, (uint)vring.Index);
        BinaryPrimitives.WriteUInt32LittleEndian(reply[4..], vring.Queue.LastAvailIdx);
        _channel.Reply(reply);
    }

    /// <summary>GET_CONFIG: a window into the device's configuration space; the reply has the request's size.</summary>
    private void ReplyConfig(ReadOnlySpan<byte> p)
    {
        if (p.Length < 12)
        {
            throw VhostUserProtocol.Error("get_config: short payload");
        }
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(p);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        ReadOnlySpan<byte> config = _device.Config;
        uint length = (uint)config.Length;
        if (size > 256 || offset > length || size > length - offset || p.Length != 12 + size)
        {
            // A reply without payload tells the front-end the request failed.
            _channel.Reply([]);
            return;
        }
        Span<byte> reply = stackalloc byte[12 + (int)size];
        p[..12].CopyTo(reply);
        config.Slice((int)offset, (int)size).CopyTo(reply[12..]);
        _channel.Reply(reply);
    }

    private void SetVringAddr(ReadOnlySpan<byte> p)
    {
        ExpectSize(p, 40);
        Vring vring = VringAt(BinaryPrimitives.ReadUInt32LittleEndian(p));
        // Field order: index, flags, desc, used, avail, log (Linux struct vhost_vring_addr).
        ulong desc = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]);
        ulong used = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]);
        ulong avail = BinaryPrimitives.ReadUInt64LittleEndian(p[24..]);
        vring.Queue.SetAddresses(desc, used, avail);
        if (vring.Started)
        {
            Activate(vring);
        }
    }

    /// <summary>Translates the ring under the current memory table; a bad ring stays inactive.</summary>
    private void Activate(Vring vring)
    {
        if (_memory.Memory.RegionCount == 0 || vring.Queue.Size == 0)
        {
            return;
        }
        bool eventIdx = VhostUserFeatures.Has(_ackedFeatures, VhostUserFeatures.EventIdxBit);
        bool indirect = VhostUserFeatures.Has(_ackedFeatures, VhostUserFeatures.IndirectDescBit);
        if (!vring.Queue.TryActivate(_memory.Memory, eventIdx, indirect))
        {
            _log?.Invoke($"vhost-user: vring {vring.Index} addresses are invalid; ring disabled");
        }
    }

    private Vring VringFromState(ReadOnlySpan<byte> p, out uint num)
    {
        ExpectSize(p, 8);
        num = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        return VringAt(BinaryPrimitives.ReadUInt32LittleEndian(p));
    }

    private Vring VringFromFdMessage(ReadOnlySpan<byte> p, out SafeFd? fd)
    {
        ulong v = ReadU64(p);
        Vring vring = VringAt((uint)(v & VhostUserMessage.VringIndexMask));
        fd = (v & VhostUserMessage.VringNoFdFlag) != 0 ? null : _channel.TakeFd(0);
        return vring;
    }

    private Vring VringAt(uint index)
    {
        // The device decides which rings are ours (vsock: rx and tx; its event queue stays in QEMU).
        if (index >= (uint)_device.Vrings.Count)
        {
            throw VhostUserProtocol.Error($"vring index {index} out of range");
        }
        return _device.Vrings[(int)index];
    }
}
