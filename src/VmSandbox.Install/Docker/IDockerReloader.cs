namespace VmSandbox.Install.Docker;

/// <summary>Asks a running dockerd to read daemon.json again; tests substitute a recorder.</summary>
public interface IDockerReloader
{
    /// <summary>Signals dockerd; returns its pid, or null when no dockerd is running.</summary>
    int? Reload();
}
