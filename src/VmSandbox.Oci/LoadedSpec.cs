using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>A validated bundle: its absolute paths, the spec, and the warnings to log (runc logs them too).</summary>
public sealed record LoadedSpec(string BundlePath, string ConfigPath, string RootfsPath, RuntimeSpec Spec, IReadOnlyList<string> Warnings);
