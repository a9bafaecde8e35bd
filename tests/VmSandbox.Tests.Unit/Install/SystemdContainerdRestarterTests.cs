using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using Xunit;

namespace VmSandbox.Tests.Unit.Install;

/// <summary>The containerd restarter against a fake systemctl (a script that records its arguments); the host's containerd is never touched.</summary>
public sealed class SystemdContainerdRestarterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-restarter-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Calls => Path.Combine(_dir, "calls");

    private SystemdContainerdRestarter Restarter(int isActive, int restart, bool systemd = true)
    {
        string script = Path.Combine(_dir, "systemctl");
        File.WriteAllText(script, $"""
            #!/bin/sh
            echo "$*" >> {Calls}
            case "$1" in
              is-active) exit {isActive} ;;
              restart) [ {restart} -eq 0 ] || echo "Job for containerd.service failed." >&2; exit {restart} ;;
            esac
            exit 99

            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        string runDir = Path.Combine(_dir, systemd ? "run-systemd" : "absent");
        if (systemd)
        {
            Directory.CreateDirectory(runDir);
        }
        return new SystemdContainerdRestarter(script, runDir);
    }

    private string[] Recorded() => File.Exists(Calls) ? File.ReadAllLines(Calls) : [];

    [Fact]
    public void An_active_containerd_is_restarted()
    {
        Assert.Equal(ContainerdRestart.Restarted, Restarter(isActive: 0, restart: 0).RestartIfActive());
        Assert.Equal(["is-active --quiet containerd", "restart containerd"], Recorded());
    }

    [Fact]
    public void An_inactive_containerd_is_left_alone()
    {
        Assert.Equal(ContainerdRestart.NotActive, Restarter(isActive: 3, restart: 0).RestartIfActive());
        Assert.Equal(["is-active --quiet containerd"], Recorded());
    }

    [Fact]
    public void Without_systemd_nothing_runs()
    {
        Assert.Equal(ContainerdRestart.NoSystemd, Restarter(isActive: 0, restart: 0, systemd: false).RestartIfActive());
        Assert.Empty(Recorded());
    }

    [Fact]
    public void A_failed_restart_is_an_error_with_systemctls_message()
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => Restarter(isActive: 0, restart: 1).RestartIfActive());
        Assert.Equal((ErrorCode.System, "systemctl restart containerd: exit code 1: Job for containerd.service failed."), (e.Code, e.Message));
    }
}
