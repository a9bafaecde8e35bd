using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Agent.ContainerInit.Protocol;

/// <summary>
/// One end of the agent ↔ container-init socketpair: blocking send and receive of
/// <see cref="InitFrame"/>s, with file descriptors (a pty master) passed as SCM_RIGHTS.
/// </summary>
public sealed class InitChannel : IDisposable
{
    private readonly SafeFd _socket;

    public InitChannel(SafeFd socket)
    {
        _socket = socket;
    }

    public SafeFd Socket => _socket;

    public void Send(InitMessage message, ReadOnlySpan<int> fds = default) =>
        UnixSocket.SendWithFds(_socket, InitFrame.Encode(message), fds);

    /// <summary>Receives one message, or null at end of stream (the peer exec'd or exited). Received fds go to <paramref name="fds"/>.</summary>
    public InitMessage? Receive(List<SafeFd>? fds = null)
    {
        byte[] header = new byte[InitFrame.HeaderSize];
        if (!ReadExactly(header, fds, allowEof: true))
        {
            return null;
        }
        byte[] payload = new byte[InitFrame.PayloadLength(header)];
        ReadExactly(payload, fds, allowEof: false);
        return InitFrame.DecodePayload(payload);
    }

    private bool ReadExactly(Span<byte> buffer, List<SafeFd>? fds, bool allowEof)
    {
        Span<int> received = stackalloc int[UnixSocket.MaxFds];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = UnixSocket.ReceiveWithFds(_socket, buffer[total..], received, out int count);
            for (int i = 0; i < count; i++)
            {
                if (fds is not null)
                {
                    fds.Add(new SafeFd(received[i]));
                }
                else
                {
                    new SafeFd(received[i]).Dispose();
                }
            }
            if (n == 0)
            {
                return total == 0 && allowEof
                    ? false
                    : throw new VmSandboxException(ErrorCode.Protocol, "init message: truncated");
            }
            total += n;
        }
        return true;
    }

    public void Dispose() => _socket.Dispose();
}
