namespace VmSandbox.Common;

/// <summary>
/// Exit codes of the vmsandbox CLI (documented in docs/cli.md). runc exits 1 on every error,
/// and containerd-shim-runc-v2 relies on that, so every error class maps to 1 except where a
/// verb passes the container's own status through (run, exec), and an `exec` that could not
/// run its process, which is 255 as with runc.
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    /// <summary>Command-line usage error (unknown verb or flag).</summary>
    public const int Usage = 2;
    /// <summary>`check`: the host cannot start a VM.</summary>
    public const int HostNotReady = 3;
    /// <summary>`exec` could not run the process (runc's `fatalWithCode(…, 255)`): apart from any status the process itself can exit with.</summary>
    public const int ExecFailed = 255;
}
