using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Install.Docker;

/// <summary>
/// Sends SIGHUP to the dockerd named by its pid file: dockerd reloads the reloadable parts of
/// daemon.json on SIGHUP, runtimes included (dockerd's reloadable options list). A missing or
/// stale pid file (no such process, or a process that is not dockerd) means "not running", so a
/// recycled pid is never signalled.
/// </summary>
public sealed class DockerReloader : IDockerReloader
{
    public const string DefaultPidFile = "/var/run/docker.pid";

    private const int SIGHUP = 1;
    private const int ESRCH = 3;
    private readonly string _pidFile;

    public DockerReloader(string pidFile = DefaultPidFile)
    {
        _pidFile = pidFile;
    }

    public int? Reload()
    {
        string text;
        try
        {
            text = File.ReadAllText(_pidFile).Trim();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 1)
        {
            return null;
        }
        SafeFd pidfd;
        try
        {
            pidfd = PidFd.Open(pid);
        }
        catch (VmSandboxException e) when (e.Errno == ESRCH)
        {
            return null;
        }
        using (pidfd)
        {
            // Checked after pidfd_open: the process the pidfd refers to is the one we read.
            if (!IsDockerd(pid))
            {
                return null;
            }
            return PidFd.SendSignal(pidfd, SIGHUP) ? pid : null;
        }
    }

    private static bool IsDockerd(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n') == "dockerd";
        }
        catch (IOException)
        {
            return false;
        }
    }
}
