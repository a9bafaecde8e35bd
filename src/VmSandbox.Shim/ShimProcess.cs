using Google.Protobuf.WellKnownTypes;
using VmSandbox.Runtime.Containers;
using VmSandbox.Shim.Protocol;

namespace VmSandbox.Shim;

/// <summary>
/// One process of a task as containerd sees it: the container's init (exec ID "") or an exec.
/// Its host PID is its helper's (the sandbox monitor, or the exec's relay), as in the CLI
/// (ADR 0011). It exits once: the status and time are kept for State, Wait and Delete.
/// </summary>
public sealed class ShimProcess
{
    private readonly TaskCompletionSource<(uint Status, DateTimeOffset At)> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ShimProcess(string execId, ProcessStdio io)
    {
        ExecId = execId;
        Io = io;
    }

    public string ExecId { get; }

    public ProcessStdio Io { get; }

    /// <summary>The agent's name for an exec (signals go by it); "" for the init.</summary>
    public string AgentExecId { get; init; } = "";

    /// <summary>An exec's OCI process JSON, from Exec until Start.</summary>
    public byte[]? SpecJson { get; init; }

    public IHelperProcess? Helper { get; set; }

    public uint Pid => (uint)(Helper?.Pid ?? 0);

    public bool Started { get; set; }

    public bool HasExited => _exited.Task.IsCompleted;

    public Task<(uint Status, DateTimeOffset At)> Exited => _exited.Task;

    public void SetExited(uint status, DateTimeOffset at) => _exited.TrySetResult((status, at));

    /// <summary>The exit as containerd reads it: status and time, zero before the end.</summary>
    public (uint Status, Timestamp? At) ExitInfo() =>
        _exited.Task.IsCompletedSuccessfully ? (_exited.Task.Result.Status, Timestamp.FromDateTimeOffset(_exited.Task.Result.At)) : (0, null);

    public Status BasicStatus() => HasExited ? Status.Stopped : Started ? Status.Running : Status.Created;
}

/// <summary>A container containerd created through this shim, with its processes.</summary>
public sealed class ShimTask
{
    public ShimTask(string id, string bundle, Container container, ShimProcess init, RootfsMount? rootfs)
    {
        Id = id;
        Bundle = bundle;
        Container = container;
        Init = init;
        Rootfs = rootfs;
    }

    public string Id { get; }

    public string Bundle { get; }

    public Container Container { get; }

    public ShimProcess Init { get; }

    public RootfsMount? Rootfs { get; }

    public Dictionary<string, ShimProcess> Execs { get; } = new(StringComparer.Ordinal);

    /// <summary>Guards <see cref="Execs"/> and the order of a task's lifecycle calls.</summary>
    public object Lock { get; } = new();
}
