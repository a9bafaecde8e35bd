using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// A process's rlimits and oom score (process.rlimits, process.oomScoreAdj). The container init
/// sets its own; in a user namespace the agent sets them first, from outside it (ADR 0019):
/// inside one the init has no CAP_SYS_RESOURCE where it counts (the initial user namespace), so
/// it could not raise a hard limit or lower its oom score. runc sets both from its parent for the
/// same reason (prlimit on the child; oom_score_adj before the user namespace). The init then
/// sets the same values again, which needs no privilege.
/// </summary>
public static class ProcessLimits
{
    /// <param name="pid">The process to set them on; 0 for the calling process.</param>
    public static void Apply(int pid, ProcessSpec? process)
    {
        foreach (ProcessSpec.Rlimit r in process?.Rlimits ?? [])
        {
            if (!RlimitNames.TryGetNumber(r.Type, out int resource))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"process.rlimits: unknown type {r.Type}");
            }
            Rlimits.Set(pid, resource, r.Soft, r.Hard);
        }
        if (process?.OomScoreAdj is int oom)
        {
            string path = pid == 0 ? "/proc/self/oom_score_adj" : $"/proc/{pid}/oom_score_adj";
            try
            {
                File.WriteAllText(path, oom.ToString(CultureInfo.InvariantCulture));
            }
            catch (IOException e)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"process.oomScoreAdj {oom}: write {path}: {e.Message}");
            }
        }
    }
}
