using VmSandbox.Common;

namespace VmSandbox.Install.Containerd;

/// <summary>
/// The CRI runtime handler <c>install --containerd</c> writes into containerd's config: the table
/// <c>[plugins.&lt;cri&gt;.containerd.runtimes.NAME]</c> that maps Kubernetes' RuntimeClass handler
/// NAME to our shim (protocols.md §6.1), and with <see cref="ConfigPath"/> its <c>options</c>
/// table, which containerd hands the shim as runtimeoptions.v1.Options (§5.2).
/// </summary>
public sealed record CriRuntimeHandler(string Name, string ShimPath, string? ConfigPath = null)
{
    public const string DefaultName = "vmsandbox";

    /// <summary>containerd runs <c>containerd-shim-&lt;name&gt;-&lt;version&gt;</c> for runtime_type <c>io.containerd.&lt;name&gt;.&lt;version&gt;</c> (§5.1).</summary>
    public const string RuntimeType = "io.containerd.vmsandbox.v2";

    public const string ShimBinaryName = "containerd-shim-vmsandbox-v2";

    /// <summary>The pod annotations containerd passes on to the sandbox's OCI spec.</summary>
    public const string PodAnnotations = "io.vmsandbox.*";

    /// <summary>Refuses a name Kubernetes cannot use as a RuntimeClass handler, runc's (containerd's default), and relative paths.</summary>
    public void Validate()
    {
        ValidateName(Name);
        if (!Path.IsPathFullyQualified(ShimPath))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"shim path \"{ShimPath}\" is not absolute");
        }
        if (ConfigPath is not null && !Path.IsPathFullyQualified(ConfigPath))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"config path \"{ConfigPath}\" is not absolute")
            {
                Hint = "give --config-path an absolute path: the shim runs in the bundle directory",
            };
        }
    }

    /// <summary>RuntimeClass's handler is a DNS label (RFC 1123): 1-63 of a-z 0-9 -, a letter or digit at both ends.</summary>
    public static void ValidateName(string name)
    {
        bool ok = name.Length is > 0 and <= 63
            && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            && name[0] != '-' && name[^1] != '-';
        if (!ok)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"runtime name \"{name}\" is not a DNS label (1-63 of a-z 0-9 -, a letter or digit at both ends), which a RuntimeClass handler must be");
        }
        if (name == "runc")
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "runtime name \"runc\" is containerd's default handler");
        }
    }
}
