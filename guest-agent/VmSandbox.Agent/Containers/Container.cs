using VmSandbox.Agent.Cgroups;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Containers;

/// <summary>One container in the guest: its spec, cgroup, shares in use, init and exec'd processes.</summary>
public sealed class Container
{
    public Container(string id, RuntimeSpec spec, string specJson, Cgroup cgroup)
    {
        Id = id;
        Spec = spec;
        SpecJson = specJson;
        Cgroup = cgroup;
    }

    public string Id { get; }

    public RuntimeSpec Spec { get; }

    public string SpecJson { get; }

    public Cgroup Cgroup { get; }

    /// <summary>virtio-fs tags this container holds (one entry per acquire).</summary>
    public List<string> Shares { get; } = [];

    public ContainerProcess? Init { get; set; }

    public bool Started { get; set; }

    public Dictionary<string, ContainerProcess> Execs { get; } = new(StringComparer.Ordinal);
}
