using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// AF_VSOCK sockets. GUEST SIDE ONLY: the host never opens AF_VSOCK (its /dev/vsock belongs to the
/// machine's own hypervisor); the host end of our vsock is the vhost-user device's Unix socket.
/// DependencyDirectionTests fails if a host assembly refers to this class.
/// </summary>
public static unsafe partial class Vsock
{
    public const ushort AF_VSOCK = 40;
    public const uint VMADDR_CID_ANY = 0xFFFFFFFF;
    public const uint VMADDR_CID_HOST = 2;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;

    /// <summary>linux/vm_sockets.h struct sockaddr_vm (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_vm
    {
        public ushort svm_family;
        public ushort svm_reserved1;
        public uint svm_port;
        public uint svm_cid;
        public uint svm_zero;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, sockaddr_vm* addr, uint len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, sockaddr_vm* addr, uint* len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, sockaddr_vm* addr, uint len);

    /// <summary>Listens on <paramref name="port"/> for connections from any CID.</summary>
    public static RawFdStream.Handle Listen(uint port, int backlog = 16)
    {
        var fd = new RawFdStream.Handle(Check(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_VSOCK)", port));
        var addr = new sockaddr_vm { svm_family = AF_VSOCK, svm_port = port, svm_cid = VMADDR_CID_ANY };
        // SAFETY: &addr points to a local struct of the size passed.
        Check(bind(fd.Fd, &addr, (uint)sizeof(sockaddr_vm)), "bind(AF_VSOCK)", port, fd);
        Check(listen(fd.Fd, backlog), "listen(AF_VSOCK)", port, fd);
        return fd;
    }

    /// <summary>
    /// Blocks until the host (CID 2) connects; returns the connection. A peer with any other CID
    /// (another guest, or this guest's own processes over a loopback transport: a container
    /// reaching for the agent) is closed at once and reported to <paramref name="refused"/>.
    /// </summary>
    public static RawFdStream.Handle AcceptFromHost(RawFdStream.Handle listener, Action<uint>? refused = null)
    {
        while (true)
        {
            var peer = default(sockaddr_vm);
            uint len = (uint)sizeof(sockaddr_vm);
            sockaddr_vm* peerAddress = &peer;
            uint* peerLength = &len;
            // SAFETY: peerAddress and peerLength point to locals of this frame, alive for the call;
            // the kernel writes at most len bytes of address.
            int fd = Eintr.Retry(() => accept4(listener.Fd, peerAddress, peerLength, SOCK_CLOEXEC));
            if (fd < 0)
            {
                throw SyscallError.Create("accept4(AF_VSOCK)", null, Marshal.GetLastPInvokeError());
            }
            var conn = new RawFdStream.Handle(fd);
            if (peer.svm_cid == VMADDR_CID_HOST)
            {
                return conn;
            }
            conn.Dispose();
            refused?.Invoke(peer.svm_cid);
        }
    }

    /// <summary>Connects to <paramref name="cid"/>:<paramref name="port"/> (the host is CID 2).</summary>
    public static RawFdStream.Handle Connect(uint cid, uint port)
    {
        var fd = new RawFdStream.Handle(Check(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_VSOCK)", port));
        var addr = new sockaddr_vm { svm_family = AF_VSOCK, svm_port = port, svm_cid = cid };
        // SAFETY: &addr points to a local struct of the size passed.
        Check(connect(fd.Fd, &addr, (uint)sizeof(sockaddr_vm)), "connect(AF_VSOCK)", port, fd);
        return fd;
    }

    private static int Check(int rc, string call, uint port, RawFdStream.Handle? dispose = null)
    {
        if (rc < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            dispose?.Dispose();
            throw SyscallError.Create(call, $"port {port}", errno);
        }
        return rc;
    }
}
