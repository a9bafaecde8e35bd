using System.Text.Json.Serialization;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// What <c>vmsandbox features</c> prints: runc's <c>types/features.Features</c> shape, filled
/// with what VmSandbox honours inside its guest (not what the host kernel could do).
/// </summary>
public sealed record Features
{
    public const string VersionAnnotation = "io.github.vmsandbox.version";

    [JsonPropertyName("ociVersionMin")]
    public string? OciVersionMin { get; init; }

    [JsonPropertyName("ociVersionMax")]
    public string? OciVersionMax { get; init; }

    public IReadOnlyList<string>? Hooks { get; init; }

    public IReadOnlyList<string>? MountOptions { get; init; }

    public LinuxFeatures? Linux { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>VmSandbox's features; <paramref name="version"/> goes into the annotations.</summary>
    public static Features Create(string version) => new()
    {
        OciVersionMin = SpecVersion.Min,
        OciVersionMax = SpecVersion.Max,
        Hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        MountOptions = MountOptionNames.Known,
        Linux = new LinuxFeatures
        {
            // The container's namespaces are made by the agent inside the guest; "network" is the
            // sandbox's netns, shared by every container of the VM; "user" is made in the guest
            // with the spec's maps (ADR 0019). No time namespace.
            Namespaces = ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            Capabilities = CapabilityNames.All,
            Cgroup = new CgroupFeatures { V1 = false, V2 = true, Systemd = false, SystemdUser = false },
            Seccomp = new SeccompFeatures
            {
                Enabled = true,
                Actions = LinuxSeccomp.KnownActions,
                Operators = LinuxSeccomp.KnownOperators,
                Archs = ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
            },
            Apparmor = new EnabledFeature { Enabled = false },
            Selinux = new EnabledFeature { Enabled = false },
        },
        Annotations = new Dictionary<string, string> { [VersionAnnotation] = version },
    };

    /// <summary>The output of <c>features</c>: runc's <c>json.Encoder</c> with a 4-space indent and a final newline.</summary>
    public string ToJson() => OciJson.Serialize(this, OciJsonContext.Default.Features, ' ', 4) + "\n";

    /// <summary>The <c>linux</c> object of the features document.</summary>
    public sealed record LinuxFeatures
    {
        public IReadOnlyList<string>? Namespaces { get; init; }

        public IReadOnlyList<string>? Capabilities { get; init; }

        public CgroupFeatures? Cgroup { get; init; }

        public SeccompFeatures? Seccomp { get; init; }

        public EnabledFeature? Apparmor { get; init; }

        public EnabledFeature? Selinux { get; init; }
    }

    /// <summary>Which cgroup managers are available.</summary>
    public sealed record CgroupFeatures
    {
        public bool? V1 { get; init; }

        public bool? V2 { get; init; }

        public bool? Systemd { get; init; }

        public bool? SystemdUser { get; init; }
    }

    /// <summary>Seccomp support and its vocabulary.</summary>
    public sealed record SeccompFeatures
    {
        public bool? Enabled { get; init; }

        public IReadOnlyList<string>? Actions { get; init; }

        public IReadOnlyList<string>? Operators { get; init; }

        public IReadOnlyList<string>? Archs { get; init; }
    }

    /// <summary>An on/off feature (AppArmor, SELinux).</summary>
    public sealed record EnabledFeature
    {
        public bool? Enabled { get; init; }
    }
}
