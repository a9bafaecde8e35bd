using Tmds.Linux;
using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Unit.Vsock;

/// <summary>The C layouts the fd-passing code relies on match LP64 Linux (x86_64, arm64).</summary>
public sealed unsafe class InteropLayoutTests
{
    [Fact]
    public void Msghdr_AndIovec_MatchTheKernel()
    {
        // include/linux/socket.h (user_msghdr) on LP64: 56 bytes; msg_control at 32, msg_controllen at 40.
        Assert.Equal(56, sizeof(msghdr));
        Assert.Equal(16, sizeof(iovec));
        msghdr m = default;
        m.msg_iov = (iovec*)0x1111;
        m.msg_iovlen = 1;
        m.msg_control = (void*)0x2222;
        m.msg_controllen = (socklen_t)0x33;
        m.msg_flags = 0x44;
        byte* b = (byte*)&m;
        // The fields are properties in Tmds.LibC: find them by value at the kernel's offsets.
        Assert.Equal(0x1111UL, *(ulong*)(b + 16));
        Assert.Equal(1UL, *(ulong*)(b + 24));
        Assert.Equal(0x2222UL, *(ulong*)(b + 32));
        Assert.Equal(0x33UL, *(ulong*)(b + 40));
        Assert.Equal(0x44, *(int*)(b + 48));
    }

    [Fact]
    public void FdsSurviveARoundTrip_AndExtraOnesAreClosed()
    {
        (SafeFd a, SafeFd b) = UnixSocket.CreatePair();
        using (a)
        using (b)
        using (SafeFd e1 = EventFd.Create())
        using (SafeFd e2 = EventFd.Create())
        {
            UnixSocket.SendWithFds(a, "x"u8, [e1.Fd, e2.Fd]);
            Span<int> fds = stackalloc int[1];
            byte[] buf = new byte[4];
            Assert.Equal(1, UnixSocket.ReceiveWithFds(b, buf, fds, out int count));
            Assert.Equal(1, count);
            using var received = new SafeFd(fds[0]);
            // The received fd is the same eventfd: signalling it is visible through e1.
            EventFd.Signal(received);
            Assert.True(EventFd.TryDrain(e1));
        }
    }
}
