using System.Buffers.Binary;
using System.Net.Sockets;
using VmSandbox.Interop;
using VmSandbox.Tests.Unit.Virtio;
using VmSandbox.Virtio.VhostUser;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

/// <summary>Plays QEMU on the vhost-user socket: sends requests (with fds) and reads replies.</summary>
internal sealed class FakeFrontEnd : IDisposable
{
    private readonly Socket _socket;

    public FakeFrontEnd(string socketPath)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        _socket.ReceiveTimeout = 5000;
    }

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, uint flags = 1, params int[] fds)
    {
        byte[] msg = new byte[12 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(msg, (uint)request);
        BinaryPrimitives.WriteUInt32LittleEndian(msg.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(msg.AsSpan(8), (uint)payload.Length);
        payload.CopyTo(msg.AsSpan(12));
        UnixSocket.SendWithFds(_socket.SafeHandle, msg, fds);
    }

    public void SendU64(VhostUserRequest request, ulong value, uint flags = 1, params int[] fds)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Send(request, b, flags, fds);
    }

    public void SendState(VhostUserRequest request, uint index, uint num)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, index);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), num);
        Send(request, b);
    }

    public byte[] ReadReply(VhostUserRequest expected)
    {
        byte[] header = ReadExactly(12);
        Assert.Equal((uint)expected, BinaryPrimitives.ReadUInt32LittleEndian(header));
        Assert.Equal(0x5u, BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)));
        return ReadExactly((int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8)));
    }

    public ulong ReadU64(VhostUserRequest expected)
    {
        byte[] p = ReadReply(expected);
        Assert.Equal(8, p.Length);
        return BinaryPrimitives.ReadUInt64LittleEndian(p);
    }

    /// <summary>QEMU 7.2's realize sequence, then the driver's SET_FEATURES.</summary>
    public void Negotiate(ulong guestCid)
    {
        Send(VhostUserRequest.GetFeatures, []);
        Assert.Equal(VhostUserFeatures.Offered, ReadU64(VhostUserRequest.GetFeatures));
        Send(VhostUserRequest.GetProtocolFeatures, []);
        ulong protocol = ReadU64(VhostUserRequest.GetProtocolFeatures);
        Assert.Equal((1UL << 9) | (1UL << 3), protocol);
        SendU64(VhostUserRequest.SetProtocolFeatures, protocol);
        Send(VhostUserRequest.SetOwner, []);
        byte[] config = new byte[12 + 8];
        BinaryPrimitives.WriteUInt32LittleEndian(config.AsSpan(4), 8);
        Send(VhostUserRequest.GetConfig, config);
        byte[] reply = ReadReply(VhostUserRequest.GetConfig);
        Assert.Equal(20, reply.Length);
        Assert.Equal(guestCid, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(12)));
        SendU64(VhostUserRequest.SetFeatures, VhostUserFeatures.Offered);
    }

    public void SetMemTable(SafeFd memfd, ulong size)
    {
        byte[] p = new byte[8 + 32];
        BinaryPrimitives.WriteUInt32LittleEndian(p, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(8), GuestRam.BaseGpa);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(16), size);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(24), GuestRam.UserBase);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(32), 0);
        // QEMU sets NEED_REPLY on SET_MEM_TABLE once REPLY_ACK is negotiated.
        Send(VhostUserRequest.SetMemTable, p, flags: 1 | 8, memfd.Fd);
        Assert.Equal(0UL, ReadU64(VhostUserRequest.SetMemTable));
    }

    public void StartRing(uint index, RingDriver driver, SafeFd kick, SafeFd call, SafeFd? err = null)
    {
        SendState(VhostUserRequest.SetVringNum, index, driver.Size);
        SendState(VhostUserRequest.SetVringBase, index, driver.AvailIdx);
        byte[] addr = new byte[40];
        BinaryPrimitives.WriteUInt32LittleEndian(addr, index);
        BinaryPrimitives.WriteUInt64LittleEndian(addr.AsSpan(8), ToVa(driver.DescGpa));
        BinaryPrimitives.WriteUInt64LittleEndian(addr.AsSpan(16), ToVa(driver.UsedGpa));
        BinaryPrimitives.WriteUInt64LittleEndian(addr.AsSpan(24), ToVa(driver.AvailGpa));
        Send(VhostUserRequest.SetVringAddr, addr);
        SendU64(VhostUserRequest.SetVringKick, index, 1, kick.Fd);
        SendU64(VhostUserRequest.SetVringCall, index, 1, call.Fd);
        if (err is not null)
        {
            SendU64(VhostUserRequest.SetVringErr, index, 1, err.Fd);
        }
        SendState(VhostUserRequest.SetVringEnable, index, 1);
    }

    /// <summary>Waits until the back-end has handled everything sent so far (a request with a reply).</summary>
    public void Sync()
    {
        Send(VhostUserRequest.GetFeatures, []);
        _ = ReadU64(VhostUserRequest.GetFeatures);
    }

    public uint GetVringBase(uint index)
    {
        SendState(VhostUserRequest.GetVringBase, index, 0);
        byte[] r = ReadReply(VhostUserRequest.GetVringBase);
        Assert.Equal(index, BinaryPrimitives.ReadUInt32LittleEndian(r));
        return BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(4));
    }

    public bool IsClosedByPeer()
    {
        try
        {
            return _socket.Receive(new byte[1]) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public void Dispose() => _socket.Dispose();

    private static ulong ToVa(ulong gpa) => GuestRam.UserBase + (gpa - GuestRam.BaseGpa);

    private byte[] ReadExactly(int n)
    {
        byte[] b = new byte[n];
        int got = 0;
        while (got < n)
        {
            int r = _socket.Receive(b, got, n - got, SocketFlags.None);
            Assert.NotEqual(0, r);
            got += r;
        }
        return b;
    }
}
