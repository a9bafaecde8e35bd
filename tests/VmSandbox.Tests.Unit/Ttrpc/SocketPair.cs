using System.Net.Sockets;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>Two connected Unix stream sockets (a socketpair made through a temp path).</summary>
internal static class SocketPair
{
    public static (Socket Left, Socket Right) Create()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vms-ttrpc-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            listener.Listen(1);
            var left = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            left.Connect(new UnixDomainSocketEndPoint(path));
            Socket right = listener.Accept();
            return (left, right);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static (NetworkStream Left, NetworkStream Right) CreateStreams()
    {
        var (left, right) = Create();
        return (new NetworkStream(left, ownsSocket: true), new NetworkStream(right, ownsSocket: true));
    }
}
