using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// Loads the process JSON of <c>exec --process FILE</c>: the same object as config.json's
/// <c>process</c>, with the same rules (<see cref="SpecValidator.ValidateProcess"/>).
/// </summary>
public static class ProcessLoader
{
    /// <summary>Loads and validates <paramref name="path"/>; warnings (unknown capabilities) go to <paramref name="warnings"/>.</summary>
    public static ProcessSpec Load(string path, ICollection<string> warnings)
    {
        string full = Path.GetFullPath(path);
        return Parse(OciJson.ReadFile(full), warnings, full);
    }

    /// <summary>Parses and validates process JSON text; <paramref name="source"/> names it in errors.</summary>
    public static ProcessSpec Parse(ReadOnlySpan<byte> json, ICollection<string> warnings, string source = "process.json")
    {
        ProcessSpec process = OciJson.Parse(json, OciJsonContext.Default.ProcessSpec, source);
        return SpecValidator.ValidateProcess(process, "", warnings) is { } problem
            ? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{source}: {problem}")
            : process;
    }

    /// <summary>Writes <paramref name="process"/> compactly (for the wire to the guest).</summary>
    public static string Serialize(ProcessSpec process) => OciJson.Serialize(process, OciJsonContext.Default.ProcessSpec);
}
