using System.Text.RegularExpressions;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// The network namespaces a VM sandbox can serve: a new one, or one made for the container
/// (CNI's, podman's) that it mirrors. Sharing the host's network stack (no network namespace in
/// the spec: `docker run --network host`) or another container's (`--network container:ID`,
/// which Docker passes as /proc/PID/ns/net) is impossible for a VM with its own kernel, and
/// `create` refuses both before anything exists (docs/docker.md).
/// </summary>
public static partial class NetworkNamespacePolicy
{
    public static void ThrowIfUnsupported(RuntimeSpec spec)
    {
        LinuxNamespace? net = spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network");
        if (net is null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                "the host's network namespace cannot be shared (docker --network host): the container runs on its own kernel in a VM")
            {
                Hint = "use a bridge or user-defined network, or --network none",
            };
        }
        if (net.Path is { Length: > 0 } path && OtherProcessNamespace().IsMatch(path))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                $"another container's network namespace ({path}) cannot be joined (docker --network container:…): each vmsandbox container runs on its own kernel in a VM")
            {
                Hint = "put both containers on one user-defined network and use its names",
            };
        }
    }

    [GeneratedRegex(@"^/proc/[0-9]+/(task/[0-9]+/)?ns/net$")]
    private static partial Regex OtherProcessNamespace();
}
