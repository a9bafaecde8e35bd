namespace VmSandbox.Install.Containerd;

/// <summary>
/// Where the CRI plugin's settings live in each version of containerd's config: version 2
/// (containerd 1.x) under <c>plugins."io.containerd.grpc.v1.cri"</c>, version 3 (containerd 2.x,
/// which also reads version 2) under <c>plugins.'io.containerd.cri.v1.runtime'</c>, spelled
/// with the quotes each version's <c>containerd config default</c> prints. Version 1 (what
/// containerd 1.x assumes when the file has no version line) spells the plugin <c>cri</c> and is
/// refused rather than written (docs/kubernetes.md).
/// </summary>
internal sealed record CriConfigLayout(int Version, string CriPlugin, bool LiteralQuotes, IReadOnlyList<string> CriPluginIds)
{
    public static CriConfigLayout? For(long version) => version switch
    {
        2 => new(2, "io.containerd.grpc.v1.cri", false, ["io.containerd.grpc.v1.cri"]),
        3 => new(3, "io.containerd.cri.v1.runtime", true, ["io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri"]),
        _ => null,
    };

    /// <summary><c>plugins.&lt;cri&gt;.containerd</c>, which holds <c>default_runtime_name</c>.</summary>
    public IReadOnlyList<string> Containerd => ["plugins", CriPlugin, "containerd"];

    /// <summary><c>plugins.&lt;cri&gt;.containerd.runtimes.NAME</c>.</summary>
    public IReadOnlyList<string> Runtime(string name) => [.. Containerd, "runtimes", name];
}
