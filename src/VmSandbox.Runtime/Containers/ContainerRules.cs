using VmSandbox.Common;
using VmSandbox.Oci.State;

namespace VmSandbox.Runtime.Containers;

/// <summary>What a caller asks of a container; the rules below say in which states it may.</summary>
public enum ContainerOperation
{
    Start,
    Kill,
    /// <summary>kill --all: every process of the container.</summary>
    KillAll,
    Exec,
    /// <summary>exec --ignore-paused.</summary>
    ExecIgnorePaused,
    Pause,
    Resume,
    Update,
    Delete,
    ForceDelete,
    /// <summary>A question to the guest about the running container: stats, its process list.</summary>
    Inspect,
}

/// <summary>What to do after <see cref="ContainerRules.Check"/> allowed an operation.</summary>
public enum RuleVerdict
{
    Proceed,
    /// <summary>Succeed without doing anything (runc: kill --all of a stopped container).</summary>
    NothingToDo,
    /// <summary>Kill the container and wait for its sandbox first (delete of a live one).</summary>
    StopFirst,
}

/// <summary>
/// The created → running ⇄ paused → stopped rules of every operation, in one place, with runc's
/// wording for each refusal (Docker, containerd and runc's own tests match on it).
/// </summary>
public static class ContainerRules
{
    /// <summary>The verdict for <paramref name="op"/> in <paramref name="status"/>; a refusal throws FailedPrecondition.</summary>
    public static RuleVerdict Check(ContainerOperation op, ContainerStatus status, string id)
    {
        bool live = status is ContainerStatus.Created or ContainerStatus.Running or ContainerStatus.Paused;
        string? refusal = (op, status) switch
        {
            (ContainerOperation.Start, ContainerStatus.Created) => null,
            (ContainerOperation.Start, ContainerStatus.Stopped) => "cannot start a container that has stopped",
            (ContainerOperation.Start, ContainerStatus.Running or ContainerStatus.Paused) => "cannot start an already running container",
            (ContainerOperation.Start, _) => $"cannot start a container in the {StateJson.StatusName(status)} state",
            (ContainerOperation.KillAll, ContainerStatus.Stopped) => null,
            (ContainerOperation.Kill or ContainerOperation.KillAll, _) when !live => "container not running",
            (ContainerOperation.Exec or ContainerOperation.ExecIgnorePaused, _) when !live => "cannot exec in a stopped container",
            (ContainerOperation.Exec, ContainerStatus.Paused) => "cannot exec in a paused container",
            (ContainerOperation.Pause, not ContainerStatus.Running) => "container not running",
            (ContainerOperation.Resume, not ContainerStatus.Paused) => "container not paused",
            (ContainerOperation.Update or ContainerOperation.Inspect, _) when !live => "container not running",
            (ContainerOperation.Delete, ContainerStatus.Running or ContainerStatus.Paused) =>
                $"cannot delete container {id} that is not stopped: {StateJson.StatusName(status)}",
            _ => null,
        };
        if (refusal is not null)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, refusal);
        }
        return (op, status) switch
        {
            (ContainerOperation.KillAll, ContainerStatus.Stopped) => RuleVerdict.NothingToDo,
            (ContainerOperation.Delete or ContainerOperation.ForceDelete, _) when live => RuleVerdict.StopFirst,
            _ => RuleVerdict.Proceed,
        };
    }
}
