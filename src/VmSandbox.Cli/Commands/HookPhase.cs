using VmSandbox.Common;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>Runs one phase of OCI hooks on the host with the container's state on stdin.</summary>
public static class HookPhase
{
    public static void Run(LifecycleContext ctx, ContainerRecord record, IReadOnlyList<Hook>? hooks, string phase)
    {
        if (hooks is null || hooks.Count == 0)
        {
            return;
        }
        _ = ctx;
        _ = record;
        throw new VmSandboxException(ErrorCode.FailedPrecondition, $"{phase} hooks: not supported yet");
    }
}
