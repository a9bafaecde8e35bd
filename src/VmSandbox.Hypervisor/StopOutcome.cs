namespace VmSandbox.Hypervisor;

/// <summary>How a VM ended when asked to stop.</summary>
public enum StopOutcome
{
    AlreadyExited,
    GuestPoweredOff,
    Quit,
    Killed,
}
