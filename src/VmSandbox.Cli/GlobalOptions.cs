namespace VmSandbox.Cli;

/// <summary>runc's global flags. `--systemd-cgroup` is accepted for compatibility.</summary>
public sealed record GlobalOptions
{
    public string Root { get; init; } = "/run/vmsandbox";
    public string? LogPath { get; init; }
    public string LogFormat { get; init; } = "text";
    public bool Debug { get; init; }
    public bool SystemdCgroup { get; init; }
}
