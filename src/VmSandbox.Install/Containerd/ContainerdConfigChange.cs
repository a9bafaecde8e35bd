namespace VmSandbox.Install.Containerd;

/// <summary>
/// What <see cref="ContainerdConfig"/> did to config.toml: nothing (already as wanted), or wrote
/// it: creating it, or after copying the old content to <see cref="BackupPath"/>;
/// <see cref="Replaced"/> when a different table of that name was there.
/// </summary>
public sealed record ContainerdConfigChange(bool Changed, bool Created, bool Replaced, bool VersionAdded, string? BackupPath, IReadOnlyList<string> Warnings);
