namespace VmSandbox.Agent.ContainerInit.Protocol;

/// <summary>
/// One message between the agent and a container-init process on their socketpair (fd 3 in the
/// init); see docs/protocols/agent-api.md "Container init protocol". Only the fields of its
/// <see cref="Type"/> are set. The agent parses and validates config.json (and an exec's
/// process); "config" carries the same bytes, not a re-serialised copy, and the init parses them
/// with the same code. Under TCG that code is then already translated: serialising the typed
/// spec and reading it back cost the first container ~0.3 s of translation (issue 13).
/// </summary>
public sealed record InitMessage
{
    public const string ConfigType = "config";
    public const string ReadyType = "ready";
    public const string StartType = "start";
    public const string ErrorType = "error";

    public const string InitMode = "init";
    public const string ExecMode = "exec";

    public string Type { get; set; } = "";

    // config (agent → init)
    public string? Mode { get; init; }

    public string? ContainerId { get; init; }

    /// <summary>
    /// Init mode: the container's config.json, the bytes the agent parsed and validated; the
    /// init parses them with the same code.
    /// </summary>
    public byte[]? SpecJson { get; init; }

    /// <summary>
    /// The container's linux.seccomp as the agent compiled it once for all its processes: struct
    /// sock_filter[] (Seccomp.SeccompProgram); null without one. An exec'd process gets it too.
    /// </summary>
    public byte[]? SeccompFilter { get; init; }

    /// <summary>The seccomp(2) flags that go with <see cref="SeccompFilter"/>.</summary>
    public uint SeccompFlags { get; init; }

    /// <summary>Exec mode: the process to run, the bytes the agent parsed and validated (init mode runs spec.process).</summary>
    public byte[]? ProcessJson { get; init; }

    /// <summary>The rootfs as a guest path (init mode).</summary>
    public string? Rootfs { get; init; }

    /// <summary>config: the host bundle path, for the state that startContainer hooks read.</summary>
    public string? Bundle { get; init; }

    /// <summary>OCI bind mounts whose source the host shared: destination → guest path.</summary>
    public IReadOnlyList<BindSource>? Binds { get; init; }

    public bool Terminal { get; init; }

    /// <summary>Guest pid of the container's init, whose namespaces an exec joins.</summary>
    public int JoinPid { get; init; }

    /// <summary>init of a pod member: guest pid of the pod sandbox's init, whose ipc and uts namespaces it joins (0: new ones).</summary>
    public int PodPid { get; init; }

    // ready (init → agent): a terminal's master comes with it as SCM_RIGHTS.
    public bool HasPty { get; init; }

    /// <summary>error (init → agent): the runtime's one cross-process error encoding.</summary>
    public Common.WireError? Error { get; init; }

    /// <summary>
    /// Destination of an OCI mount, where its source is in the guest, and the host mount points
    /// below the source (relative paths, parents first) that an rbind must carry.
    /// </summary>
    public sealed record BindSource(string Destination, string Source, IReadOnlyList<string>? Submounts = null);
}
