using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// Loads and validates <c>&lt;bundle&gt;/config.json</c> for <c>create</c> and <c>run</c>. Errors are
/// one-line <see cref="VmSandboxException"/>s, NotFound for a missing bundle or file and
/// InvalidArgument for everything else, each naming the file first:
/// <c>/b/config.json: process.args: must not be empty</c>.
/// </summary>
public static class SpecLoader
{
    public const string ConfigFileName = "config.json";

    /// <summary>Loads the bundle at <paramref name="bundle"/> (relative to the current directory if relative).</summary>
    public static LoadedSpec Load(string bundle)
    {
        string bundlePath = Path.GetFullPath(string.IsNullOrEmpty(bundle) ? "." : bundle);
        if (!Directory.Exists(bundlePath))
        {
            throw File.Exists(bundlePath)
                ? new VmSandboxException(ErrorCode.InvalidArgument, $"bundle {bundlePath}: not a directory")
                : new VmSandboxException(ErrorCode.NotFound, $"bundle {bundlePath}: no such file or directory");
        }
        string configPath = Path.Combine(bundlePath, ConfigFileName);
        byte[] json = OciJson.ReadFile(configPath);
        RuntimeSpec spec = Parse(json, configPath);
        var warnings = new List<string>();
        if (SpecValidator.Validate(spec, warnings) is { } problem)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"{configPath}: {problem}");
        }
        string rootfs = Path.GetFullPath(spec.Root!.Path, bundlePath);
        if (!Directory.Exists(rootfs))
        {
            // runc compat: libcontainer's validator refuses a missing rootfs before creating anything.
            throw new VmSandboxException(ErrorCode.NotFound, $"{configPath}: root.path: rootfs {rootfs}: no such directory");
        }
        return new LoadedSpec(bundlePath, configPath, rootfs, spec, warnings, json);
    }

    /// <summary>Parses config.json text without validating it; <paramref name="source"/> names it in errors.</summary>
    public static RuntimeSpec Parse(ReadOnlySpan<byte> json, string source = ConfigFileName) =>
        OciJson.Parse(json, OciJsonContext.Default.RuntimeSpec, source);

    /// <summary>Parses and validates config.json text (no file system checks).</summary>
    public static RuntimeSpec ParseAndValidate(ReadOnlySpan<byte> json, ICollection<string> warnings, string source = ConfigFileName)
    {
        RuntimeSpec spec = Parse(json, source);
        return SpecValidator.Validate(spec, warnings) is { } problem
            ? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{source}: {problem}")
            : spec;
    }

    /// <summary>Parses an OCI LinuxResources object (`runc update --resources`).</summary>
    public static Spec.LinuxResources ParseResources(ReadOnlySpan<byte> json, string source) =>
        OciJson.Parse(json, OciJsonContext.Default.LinuxResources, source);

    /// <summary>Writes <paramref name="resources"/> as compact JSON (what `update` sends to the guest).</summary>
    public static string SerializeResources(Spec.LinuxResources resources) => OciJson.Serialize(resources, OciJsonContext.Default.LinuxResources);

    /// <summary>Writes <paramref name="spec"/> as <c>runc spec</c> does: tab-indented, no final newline.</summary>
    public static string Serialize(RuntimeSpec spec) => OciJson.Serialize(spec, OciJsonContext.Default.RuntimeSpec, '\t');
}
