using VmSandbox.Common;

namespace VmSandbox.Virtio.VhostUser;

/// <summary>The front-end broke the protocol; the connection is closed.</summary>
internal static class VhostUserProtocol
{
    public static VmSandboxException Error(string message)
    {
        return new VmSandboxException(ErrorCode.Protocol, $"vhost-user: {message}");
    }
}
