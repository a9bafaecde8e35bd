namespace VmSandbox.Install.Containerd;

/// <summary>What <see cref="IContainerdRestarter.RestartIfActive"/> found and did.</summary>
public enum ContainerdRestart
{
    /// <summary>containerd.service was active and has been restarted.</summary>
    Restarted,
    /// <summary>systemd runs, but containerd.service is not active: nothing to restart.</summary>
    NotActive,
    /// <summary>The host is not run by systemd: whoever runs containerd must restart it.</summary>
    NoSystemd,
}

/// <summary>Restarts a running containerd so that it reads config.toml again; tests substitute a recorder.</summary>
public interface IContainerdRestarter
{
    ContainerdRestart RestartIfActive();
}
