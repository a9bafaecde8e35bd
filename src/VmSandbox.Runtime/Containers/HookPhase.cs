using VmSandbox.Common;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// Runs one phase of OCI hooks on the host, with the container's state on stdin (the monitor's
/// PID: it lives in the container's network namespace). prestart and createRuntime failures fail
/// the call; poststart and poststop failures are warnings, as in runc.
/// </summary>
public static class HookPhase
{
    public static void Run(IRuntimeLog log, ContainerRecord record, Hooks? hooks, HookKind kind, ContainerStatus status)
    {
        IReadOnlyList<Hook>? selected = HookRunner.Select(hooks, kind);
        if (selected is null || selected.Count == 0)
        {
            return;
        }
        var state = new HookState
        {
            OciVersion = Oci.SpecVersion.Current,
            Id = record.Id,
            Status = StateJson.StatusName(status),
            Pid = status == ContainerStatus.Stopped ? 0 : record.MonitorPid,
            Bundle = record.Bundle,
            Annotations = record.Annotations,
        };
        var runner = new HookRunner();
        if (kind is HookKind.Poststart or HookKind.Poststop)
        {
            foreach (VmSandboxException e in runner.RunAll(kind, selected, state))
            {
                log.Warn(VmSandboxException.FormatChain(e));
            }
            return;
        }
        runner.Run(kind, selected, state);
    }
}
