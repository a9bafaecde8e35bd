namespace VmSandbox.Runtime.Containers;

/// <summary>
/// What the runtime remembers of a container between CLI calls, in &lt;root&gt;/&lt;id&gt;/state.json.
/// The status is never stored: it is derived from the monitor's liveness and these flags
/// (<see cref="ContainerStore.StatusOf"/>).
/// </summary>
public sealed record ContainerRecord
{
    public string Id { get; init; } = "";
    public string Bundle { get; init; } = "";
    public string Rootfs { get; init; } = "";
    /// <summary>RFC 3339 creation time, as runc prints it.</summary>
    public string Created { get; init; } = "";
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    /// <summary>The sandbox monitor: the container's PID as callers see it.</summary>
    public int MonitorPid { get; init; }
    /// <summary>/proc/PID/stat start time of the monitor, so a recycled PID is never mistaken for it.</summary>
    public ulong MonitorStartTime { get; init; }
    /// <summary>Short directory for the sandbox's sockets (unix socket paths are limited to 107 bytes).</summary>
    public string RunDir { get; init; } = "";
    /// <summary>Guest PID of the container's init process.</summary>
    public int GuestPid { get; init; }
    public bool Terminal { get; init; }
    public bool Started { get; init; }
    public bool Paused { get; init; }
    public string Owner { get; init; } = "";
    /// <summary>The host cgroup directories the monitor joins (<see cref="Sandbox.HostCgroup"/>); removed by delete.</summary>
    public IReadOnlyList<string>? HostCgroups { get; init; }
    /// <summary>A pod member: the pod's sandbox container, whose VM runs this one (its "monitor" is then a member relay).</summary>
    public string? SandboxId { get; init; }
    /// <summary>
    /// A pod member: the run directory of that sandbox, where its agent and monitor are reached;
    /// a container in a pooled VM (ADR 0018): that VM's directory.
    /// </summary>
    public string? SandboxRunDir { get; init; }
    /// <summary>A container in a pooled VM: the process that holds the VM, which ends after the container's monitor.</summary>
    public int PoolVmPid { get; init; }
    public ulong PoolVmStartTime { get; init; }

    /// <summary>Where the VM that runs this container has its sockets: its own run directory, its pod sandbox's or its pooled VM's.</summary>
    public string VmRunDir() => SandboxRunDir ?? RunDir;
}
