namespace VmSandbox.Install.Docker;

/// <summary>
/// What <see cref="DockerDaemonConfig"/> did to daemon.json: nothing (already as wanted), or
/// wrote it, creating it or after copying the old content to <see cref="BackupPath"/>.
/// </summary>
public sealed record DaemonConfigChange(bool Changed, bool Created, string? BackupPath);
