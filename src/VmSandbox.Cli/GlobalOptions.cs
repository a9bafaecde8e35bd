namespace VmSandbox.Cli;

/// <summary>runc's global flags. `--systemd-cgroup` is accepted for compatibility.</summary>
public sealed record GlobalOptions
{
    /// <summary>State directory; null means the configuration's stateRoot (default /run/vmsandbox).</summary>
    public string? Root { get; init; }
    public string? LogPath { get; init; }
    public string LogFormat { get; init; } = "text";
    public bool Debug { get; init; }
    public bool SystemdCgroup { get; init; }
}
