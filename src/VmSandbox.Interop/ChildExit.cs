namespace VmSandbox.Interop;

/// <summary>How a reaped child ended: an exit code, or the signal that killed it (Code is then -1).</summary>
public readonly record struct ChildExit(int Code, int Signal, bool CoreDumped)
{
    public bool Signaled => Signal != 0;
}
