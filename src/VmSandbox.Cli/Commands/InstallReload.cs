using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli.Commands;

/// <summary>After install or uninstall changed a config: have the daemon read it, and say what happened.</summary>
internal static class InstallReload
{
    /// <summary>dockerd reloads its runtimes on SIGHUP.</summary>
    public static void Docker(InstallFlags flags, IDockerReloader reloader, TextWriter stdout)
    {
        if (!flags.Reload)
        {
            stdout.WriteLine("dockerd not reloaded (--no-reload): send it SIGHUP or restart it to apply");
            return;
        }
        stdout.WriteLine(reloader.Reload() is { } pid
            ? $"sent SIGHUP to dockerd (pid {pid}): it reloads its runtimes now"
            : "dockerd is not running: it reads the runtimes when it starts");
    }

    /// <summary>containerd reads config.toml only when it starts: a running one is restarted (its containers keep running).</summary>
    public static void Containerd(InstallFlags flags, IContainerdRestarter restarter, TextWriter stdout, string? backup)
    {
        if (!flags.Reload)
        {
            stdout.WriteLine("containerd not restarted (--no-reload): it reads config.toml only when it starts; run: systemctl restart containerd");
            return;
        }
        ContainerdRestart restart;
        try
        {
            restart = restarter.RestartIfActive();
        }
        catch (VmSandboxException e)
        {
            throw new VmSandboxException(e.Code, "restart containerd", e)
            {
                Hint = "journalctl -u containerd -n 50" + (backup is null ? "" : $"; the config before this change is {backup}"),
            };
        }
        stdout.WriteLine(restart switch
        {
            ContainerdRestart.Restarted => "restarted containerd (systemctl restart containerd): it reads the runtime handlers now",
            ContainerdRestart.NotActive => "containerd is not running (systemctl is-active): it reads the runtime handlers when it starts",
            _ => "systemd does not run this host: restart containerd yourself, it reads config.toml only when it starts",
        });
    }
}
