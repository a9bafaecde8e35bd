using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// What of a spec's user namespace the guest cannot apply, refused before a VM boots (ADR 0019):
/// id-mapped mounts (virtio-fs has no idmap support in the guest kernel), and joining a user
/// namespace by path outside a pod (a host path names nothing in the container's own VM).
/// </summary>
public static class UserNamespacePolicy
{
    public static void ThrowIfUnsupported(RuntimeSpec spec)
    {
        IReadOnlyList<Mount> mounts = spec.Mounts ?? [];
        for (int i = 0; i < mounts.Count; i++)
        {
            if (mounts[i].UidMappings is { Count: > 0 } || mounts[i].GidMappings is { Count: > 0 })
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument,
                    $"mounts[{i}]: id-mapped mounts (uidMappings, gidMappings) are not supported: the volume reaches the guest through virtio-fs, which cannot be id-mapped");
            }
        }
    }

    /// <summary>A container with a VM of its own has no user namespace to join but the ones it makes.</summary>
    public static void ThrowIfJoinOutsidePod(RuntimeSpec spec)
    {
        LinuxNamespace? user = spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "user");
        if (!string.IsNullOrEmpty(user?.Path))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument,
                $"linux.namespaces: user namespace path {user.Path}: only a pod member may join a user namespace (its pod's, in the pod's VM)");
        }
    }
}
