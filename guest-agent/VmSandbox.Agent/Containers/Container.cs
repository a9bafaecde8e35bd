using VmSandbox.Agent.Cgroups;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;

namespace VmSandbox.Agent.Containers;

/// <summary>One container in the guest: its spec, cgroup, shares in use, init and exec'd processes.</summary>
public sealed class Container
{
    public Container(string id, RuntimeSpec spec, Cgroup cgroup)
    {
        Id = id;
        Spec = spec;
        Cgroup = cgroup;
    }

    public string Id { get; }

    /// <summary>config.json as <see cref="ContainerManager.Create"/> parsed and validated it (the init parses the same bytes again).</summary>
    public RuntimeSpec Spec { get; }

    /// <summary>linux.seccomp compiled once, for the init and every exec (null: none).</summary>
    public SeccompProgram? Seccomp { get; init; }

    public Cgroup Cgroup { get; }

    /// <summary>virtio-fs tags this container holds (one entry per acquire).</summary>
    public List<string> Shares { get; } = [];

    public ContainerProcess? Init { get; set; }

    public bool Started { get; set; }

    public Dictionary<string, ContainerProcess> Execs { get; } = new(StringComparer.Ordinal);
}
