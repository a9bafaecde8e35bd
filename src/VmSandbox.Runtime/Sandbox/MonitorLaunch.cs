using VmSandbox.Oci;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// What the sandbox monitor runs, as create validated it: the container, its run directory
/// (sockets), the host cgroups it joins, the config (with the exact bytes the guest receives),
/// and where its exit status goes.
/// </summary>
public sealed record MonitorLaunch(string Id, string RunDir, IReadOnlyList<string> HostCgroups, LoadedSpec Spec, Action<int> RecordExit)
{
    /// <summary>The config of pod member ID, whose files this sandbox's share takes in (null: no pod members).</summary>
    public Func<string, LoadedSpec>? LoadMember { get; init; }
}
