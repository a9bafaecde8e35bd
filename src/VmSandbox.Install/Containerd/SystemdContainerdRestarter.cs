using System.Diagnostics;
using VmSandbox.Common;

namespace VmSandbox.Install.Containerd;

/// <summary>
/// Restarts containerd.service through systemctl. containerd reads config.toml once, at start,
/// and has no reload signal, so a new runtime handler needs a restart; containers keep running
/// across it (their shims are separate processes that containerd reconnects to).
/// </summary>
public sealed class SystemdContainerdRestarter : IContainerdRestarter
{
    private const string Unit = "containerd";
    private static readonly TimeSpan s_restartTimeout = TimeSpan.FromSeconds(120);
    private readonly string _systemctl;
    private readonly string _systemdRunDir;

    /// <param name="systemctl">The systemctl to run (tests pass a script).</param>
    /// <param name="systemdRunDir">sd_booted(3): systemd is the init system when this directory exists.</param>
    public SystemdContainerdRestarter(string systemctl = "systemctl", string systemdRunDir = "/run/systemd/system")
    {
        _systemctl = systemctl;
        _systemdRunDir = systemdRunDir;
    }

    public ContainerdRestart RestartIfActive()
    {
        if (!Directory.Exists(_systemdRunDir))
        {
            return ContainerdRestart.NoSystemd;
        }
        if (Systemctl(TimeSpan.FromSeconds(10), "is-active", "--quiet", Unit).ExitCode != 0)
        {
            return ContainerdRestart.NotActive;
        }
        (int rc, string error) = Systemctl(s_restartTimeout, "restart", Unit);
        if (rc != 0)
        {
            throw new VmSandboxException(ErrorCode.System, $"systemctl restart {Unit}: exit code {rc}{(error.Length > 0 ? ": " + error : "")}");
        }
        return ContainerdRestart.Restarted;
    }

    private (int ExitCode, string Error) Systemctl(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(_systemctl, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new VmSandboxException(ErrorCode.HostMissing, "systemctl did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmSandboxException(ErrorCode.HostMissing, $"run systemctl {string.Join(' ', args)}", e);
        }
        using (process)
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill();
                throw new VmSandboxException(ErrorCode.Timeout, $"systemctl {string.Join(' ', args)}: no answer in {timeout.TotalSeconds:0} s");
            }
            return (process.ExitCode, stderr.Result.Trim().ReplaceLineEndings(" "));
        }
    }
}
