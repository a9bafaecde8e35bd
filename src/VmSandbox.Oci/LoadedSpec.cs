using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// A validated bundle: its absolute paths, the spec, the warnings to log (runc logs them too),
/// and <paramref name="Json"/>, the exact bytes that were parsed and validated. Those bytes, not a
/// second read of the bundle's file, are what the runtime keeps and what the guest receives.
/// </summary>
public sealed record LoadedSpec(string BundlePath, string ConfigPath, string RootfsPath, RuntimeSpec Spec, IReadOnlyList<string> Warnings, ReadOnlyMemory<byte> Json = default);
