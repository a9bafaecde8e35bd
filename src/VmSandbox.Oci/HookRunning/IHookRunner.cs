using VmSandbox.Common;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;

namespace VmSandbox.Oci.HookRunning;

/// <summary>Runs OCI hooks; the lifecycle code depends on this so that its tests can record calls instead.</summary>
public interface IHookRunner
{
    /// <summary>Runs <paramref name="hooks"/> in order; the first failure stops the list and throws.</summary>
    void Run(HookKind kind, IReadOnlyList<Hook>? hooks, HookState state);

    /// <summary>
    /// Runs every hook even when some fail and returns the failures (runtime-spec: a failing
    /// poststart or poststop hook is a warning, "the remaining hooks and lifecycle continue").
    /// </summary>
    IReadOnlyList<VmSandboxException> RunAll(HookKind kind, IReadOnlyList<Hook>? hooks, HookState state);
}
