namespace VmSandbox.Oci.HookRunning;

/// <summary>
/// The OCI hook points (runtime-spec config.md "POSIX-platform Hooks"), in lifecycle order. The
/// lifecycle code decides when each runs; <see cref="HookRunner.SpecName"/> gives the spec's name.
/// </summary>
public enum HookKind
{
    /// <summary>Deprecated, still used by Docker 20.10 for networking: after create, before pivot_root.</summary>
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}
