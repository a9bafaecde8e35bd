using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// SCMP_ACT_NOTIFY rules hand the seccomp notify fd to an agent listening at
/// <c>linux.seccomp.listenerPath</c>. The fd would belong to the guest's kernel, where no host
/// agent can receive it, so such a profile is refused on the host before a VM boots: with runc's
/// words when the agent is not there at all, and as unsupported when it is.
/// </summary>
public static class SeccompNotify
{
    private const string NotifyAction = "SCMP_ACT_NOTIFY";

    public static void ThrowIfRequested(LinuxSeccomp? seccomp)
    {
        if (seccomp is null || (seccomp.DefaultAction != NotifyAction && seccomp.Syscalls?.Any(s => s.Action == NotifyAction) != true))
        {
            return;
        }
        string? path = seccomp.ListenerPath;
        if (string.IsNullOrEmpty(path))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
        }
        if (!File.Exists(path))
        {
            throw new VmSandboxException(ErrorCode.NotFound, $"failed to connect with seccomp agent: dial unix {path}: connect: no such file or directory");
        }
        throw new VmSandboxException(ErrorCode.FailedPrecondition,
            $"seccomp: SCMP_ACT_NOTIFY is not supported: the notify fd would belong to the guest's kernel, out of reach of the agent at {path}");
    }
}
