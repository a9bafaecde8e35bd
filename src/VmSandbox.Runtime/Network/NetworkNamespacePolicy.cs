using System.Text.RegularExpressions;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// The network namespaces a VM sandbox can serve: a new one, or one made for the container
/// (CNI's, podman's) that it mirrors. Sharing the host's network stack (no network namespace in
/// the spec, or a path to the host's own: Docker's `--network host` passes its bind mount of it,
/// `&lt;exec-root&gt;/netns/default`) or another container's (`--network container:ID`, which
/// Docker and podman pass as /proc/PID/ns/net) is impossible for a VM with its own kernel, and `create`
/// refuses both before anything exists (docs/docker.md).
/// </summary>
public static partial class NetworkNamespacePolicy
{
    /// <param name="sameNamespace">Whether two namespace paths name one namespace (the host's is <see cref="HostNamespace"/>).</param>
    public static void ThrowIfUnsupported(RuntimeSpec spec, Func<string, string, bool> sameNamespace)
    {
        LinuxNamespace? net = spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network");
        if (net is null || (net.Path is { Length: > 0 } hostPath && sameNamespace(hostPath, HostNamespace)))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                "the host's network namespace cannot be shared (--network host): the container runs on its own kernel in a VM")
            {
                Hint = "use a bridge or user-defined network, or --network none",
            };
        }
        if (net.Path is { Length: > 0 } path && OtherProcessNamespace().IsMatch(path))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                $"another container's network namespace ({path}) cannot be joined (--network container:…): each vmsandbox container runs on its own kernel in a VM")
            {
                Hint = "put both containers on one user-defined network and use its names",
            };
        }
    }

    /// <summary>
    /// The host's network namespace as the runtime sees it: its own, the caller's (Docker's shim,
    /// containerd, podman run in the host's). init's (/proc/1/ns/net) would be the same, but is
    /// unreadable where the host itself is sandboxed.
    /// </summary>
    public const string HostNamespace = "/proc/self/ns/net";

    /// <summary>The production comparison: same device and inode; a path that cannot be read is not the host's.</summary>
    public static bool SameNamespace(string a, string b)
    {
        try
        {
            return Interop.FileStat.GetIdentity(a) == Interop.FileStat.GetIdentity(b);
        }
        catch (VmSandboxException)
        {
            return false; // a missing path fails later, in the monitor, with its own message
        }
    }

    [GeneratedRegex(@"^/proc/[0-9]+/(task/[0-9]+/)?ns/net$")]
    private static partial Regex OtherProcessNamespace();
}
