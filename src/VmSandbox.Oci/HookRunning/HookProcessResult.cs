using VmSandbox.Interop;

namespace VmSandbox.Oci.HookRunning;

/// <summary>What one hook process did: how it ended (null when it was killed for running too long) and its output.</summary>
internal sealed record HookProcessResult(ChildExit? Exit, string Stdout, string Stderr)
{
    public bool TimedOut => Exit is null;
}
