namespace VmSandbox.Oci.State;

/// <summary>The OCI lifecycle states, printed lowercase as runc does.</summary>
public enum ContainerStatus
{
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}
