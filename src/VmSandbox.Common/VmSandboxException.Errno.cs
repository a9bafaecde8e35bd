namespace VmSandbox.Common;

public partial class VmSandboxException
{
    /// <summary>The errno of a failed syscall, 0 when the error did not come from one.</summary>
    public int Errno { get; init; }
}
