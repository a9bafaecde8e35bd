using VmSandbox.Agent.Cgroups;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Containers;

/// <summary>One container in the guest: its spec, cgroup, shares in use, init and exec'd processes.</summary>
public sealed class Container
{
    public Container(string id, RuntimeSpec spec, byte[] specJson, Cgroup cgroup)
    {
        Id = id;
        Spec = spec;
        SpecJson = specJson;
        Cgroup = cgroup;
    }

    public string Id { get; }

    /// <summary>config.json as <see cref="ContainerManager.Create"/> parsed and validated it: the guest's one parse.</summary>
    public RuntimeSpec Spec { get; }

    /// <summary>The bytes <see cref="Spec"/> was parsed from, which a container init parses again (<see cref="ContainerInit.Protocol.InitMessage.SpecJson"/>).</summary>
    public byte[] SpecJson { get; }

    public Cgroup Cgroup { get; }

    /// <summary>virtio-fs tags this container holds (one entry per acquire).</summary>
    public List<string> Shares { get; } = [];

    public ContainerProcess? Init { get; set; }

    public bool Started { get; set; }

    public Dictionary<string, ContainerProcess> Execs { get; } = new(StringComparer.Ordinal);
}
