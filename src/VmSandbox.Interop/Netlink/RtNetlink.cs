using Tmds.Linux;
using VmSandbox.Common;

namespace VmSandbox.Interop.Netlink;

/// <summary>
/// One NETLINK_ROUTE socket and the request/reply discipline around it: a sequence number per
/// request, dumps read until NLMSG_DONE, ACKs awaited and NLMSG_ERROR turned into a syscall-style
/// exception naming the request. The host reads the container's network namespace with it (links,
/// addresses, routes) and wires a tap to the veth with tc; the guest agent configures its NIC.
/// Collaborators: <see cref="NetlinkRequests"/> encodes, <see cref="NetlinkReplies"/> and
/// <see cref="NetlinkDecoder"/> decode; <see cref="NetlinkSocket"/> is the only syscall layer.
/// One request at a time per instance (calls are serialized by a lock).
/// </summary>
public sealed partial class RtNetlink : IDisposable
{
    /// <summary>
    /// Receive buffer. The kernel sizes dump datagrams to the reader's buffer but caps them near
    /// 32 KiB (netlink_dump: NLMSG_GOODSIZE up to 32 KiB), and single messages (a link with many
    /// attributes) stay well below; a bigger datagram is reported, not silently cut.
    /// </summary>
    private const int ReceiveBufferSize = 64 * 1024;

    /// <summary>The largest request built here (the mirred filter) is 140 bytes.</summary>
    private const int RequestBufferSize = 1024;

    /// <summary>A dump flagged NLM_F_DUMP_INTR (tables changed meanwhile) is retried this often.</summary>
    private const int DumpAttempts = 3;

    private static readonly TimeSpan s_replyTimeout = TimeSpan.FromSeconds(10);

    private readonly SafeFd _socket;
    private readonly byte[] _receive = new byte[ReceiveBufferSize];
    private readonly byte[] _request = new byte[RequestBufferSize];
    private readonly Lock _lock = new();
    private uint _seq;

    private RtNetlink(SafeFd socket)
    {
        _socket = socket;
        _seq = (uint)Environment.TickCount;
    }

    /// <summary>A NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    public static RtNetlink Open() => new(NetlinkSocket.Open(NetlinkSocket.NETLINK_ROUTE, s_replyTimeout));

    /// <summary>
    /// A NETLINK_ROUTE socket in the network namespace <paramref name="netnsPath"/> refers to
    /// (/proc/PID/ns/net, /run/netns/NAME). A socket stays in the namespace it was made in, so a
    /// short-lived thread joins the namespace, makes the socket and goes back; the calling
    /// thread's namespace never changes (setns acts per thread).
    /// </summary>
    public static RtNetlink OpenInNamespace(string netnsPath)
    {
        using SafeFd target = SafeFd.Open(netnsPath, LibC.O_RDONLY | LibC.O_CLOEXEC);
        SafeFd? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                const string Home = "/proc/thread-self/ns/net";
                using SafeFd home = SafeFd.Open(Home, LibC.O_RDONLY | LibC.O_CLOEXEC);
                Namespace.Join(target, Namespace.CLONE_NEWNET, netnsPath);
                try
                {
                    socket = NetlinkSocket.Open(NetlinkSocket.NETLINK_ROUTE, s_replyTimeout);
                }
                finally
                {
                    Namespace.Join(home, Namespace.CLONE_NEWNET, Home);
                }
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        {
            IsBackground = true,
            Name = "netns-netlink",
        };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            socket?.Dispose();
            throw new VmSandboxException(VmSandboxException.CodeOf(error), $"open netlink socket in {netnsPath}", error);
        }
        return new RtNetlink(socket!);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>Sends a request built by <paramref name="encode"/> and waits for its ACK.</summary>
    private void Transact(string call, string what, Func<Span<byte>, uint, int> encode)
    {
        lock (_lock)
        {
            uint seq = ++_seq;
            int length = encode(_request, seq);
            NetlinkSocket.Send(_socket, _request.AsSpan(0, length));
            while (!NetlinkReplies.ReadAck(ReceiveDatagram(call, what), seq, call, what))
            {
            }
        }
    }

    /// <summary>Runs a dump request and decodes its <paramref name="messageType"/> messages.</summary>
    private List<T> Dump<T>(string call, ushort messageType, Func<Span<byte>, uint, int> encode, NetlinkDecode<T> decode)
        where T : class
    {
        lock (_lock)
        {
            var result = new List<T>();
            for (int attempt = 1; ; attempt++)
            {
                result.Clear();
                uint seq = ++_seq;
                int length = encode(_request, seq);
                NetlinkSocket.Send(_socket, _request.AsSpan(0, length));
                bool interrupted = false;
                while (!NetlinkReplies.ReadDumpPart(ReceiveDatagram(call, "dump"), seq, messageType, decode, result, call, ref interrupted))
                {
                }
                // iproute2 only warns on NLM_F_DUMP_INTR; retry a few times for a consistent view.
                if (!interrupted || attempt == DumpAttempts)
                {
                    return result;
                }
            }
        }
    }

    /// <summary>Receives the next datagram from the kernel (others are dropped).</summary>
    private ReadOnlySpan<byte> ReceiveDatagram(string call, string what)
    {
        while (true)
        {
            int n;
            uint sender;
            try
            {
                n = NetlinkSocket.Receive(_socket, _receive, out sender);
            }
            catch (VmSandboxException e) when (e.Errno == LibC.EAGAIN)
            {
                throw new VmSandboxException(ErrorCode.Timeout, $"{call} {what}: no reply from the kernel within {s_replyTimeout.TotalSeconds:0} s", e);
            }
            if (n > _receive.Length)
            {
                throw NetlinkErrors.Malformed($"{call} {what}: datagram of {n} bytes exceeds the {_receive.Length}-byte buffer");
            }
            if (sender == 0)
            {
                return _receive.AsSpan(0, n);
            }
        }
    }
}
