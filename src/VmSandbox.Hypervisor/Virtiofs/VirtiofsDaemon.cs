using System.Diagnostics;
using VmSandbox.Common;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Hypervisor.Qemu;
using VmSandbox.Interop;

namespace VmSandbox.Hypervisor.Virtiofs;

/// <summary>
/// One virtiofsd (QEMU's, /usr/lib/qemu/virtiofsd) serving a <see cref="SharedDir"/> to one VM
/// through a vhost-user socket. It exits by itself when QEMU disconnects; it is tied to its owner
/// with a parent-death signal like QEMU. Binds are made in a private mount namespace created on
/// the daemon's parent thread, so they vanish with the daemon.
/// </summary>
public sealed class VirtiofsDaemon : IAsyncDisposable
{
    /// <summary>The size of the tmpfs at the share's top (mount points only: directories and empty files).</summary>
    public const int ShareTopBytes = 1 << 20;

    /// <summary>Its inode limit: every mount point of the sandbox and its pod members, and their parent directories.</summary>
    public const int ShareTopInodes = 4096;

    private readonly Process _process;
    private readonly StderrTail _stderr = new();

    private VirtiofsDaemon(SharedDir dir, string socketPath, Process process)
    {
        Dir = dir;
        SocketPath = socketPath;
        _process = process;
    }

    public SharedDir Dir { get; }

    public string SocketPath { get; }

    public int Pid => _process.Id;

    /// <summary>Completes when the daemon has exited, for whatever reason.</summary>
    public Task Exited => _process.WaitForExitAsync();

    /// <summary>The daemon's exit status and its last line of output, for the log of an unexpected end.</summary>
    public string ExitDescription => $"exit status {(_process.HasExited ? _process.ExitCode : -1)}" + (_stderr.LastLine.Length > 0 ? $": {_stderr.LastLine}" : "");

    /// <summary>The VM device attaching this share as share number <paramref name="index"/>.</summary>
    public VirtiofsDevice Device(int index) => new("vfs" + index.ToString(System.Globalization.CultureInfo.InvariantCulture), SocketPath, Dir.Tag);

    /// <summary>Starts the daemon and waits until its socket exists (QEMU connects at start-up).</summary>
    public static async Task<VirtiofsDaemon> StartAsync(string virtiofsdPath, SharedDir dir, string socketPath, CancellationToken ct)
    {
        if (!File.Exists(virtiofsdPath))
        {
            throw new VmSandboxException(ErrorCode.HostMissing, $"virtiofsd {virtiofsdPath} not found") { Hint = "make setup (installs qemu-system-x86)" };
        }
        if (!Directory.Exists(dir.HostPath))
        {
            throw new VmSandboxException(ErrorCode.NotFound, $"shared directory {dir.HostPath}: no such file or directory");
        }
        SocketFile.RemoveStale(socketPath);
        ProcessStartInfo psi = OwnedProcess.StartInfo(virtiofsdPath,
        [
            $"--socket-path={socketPath}",
            "-o", $"source={dir.HostPath}",
            // Writes through a bind-mounted volume must show on the host at once; file caps need xattrs.
            "-o", "cache=auto",
            "-o", "xattr",
            "-o", "announce_submounts",
            "-o", "log_level=err",
        ]);
        Process process;
        try
        {
            process = OwnedProcess.Start(psi, "virtiofsd-parent", dir.Binds.Count > 0 || dir.Private ? () => MountBinds(dir) : null);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmSandboxException(ErrorCode.HostMissing, $"start {virtiofsdPath}", e);
        }
        process.StandardInput.Close();
        var daemon = new VirtiofsDaemon(dir, socketPath, process);
        process.ErrorDataReceived += (_, e) => daemon._stderr.Add(e.Data);
        process.OutputDataReceived += (_, e) => daemon._stderr.Add(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!File.Exists(socketPath))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await daemon.DisposeAsync();
                string tail = daemon._stderr.LastLine;
                throw new VmSandboxException(ErrorCode.Vm,
                    $"virtiofsd for share {dir.Tag} " + (process.HasExited ? $"exited with code {process.ExitCode}" : "did not create its socket") + (tail.Length > 0 ? $": {tail}" : ""));
            }
            await Task.Delay(5, ct);
        }
        return daemon;
    }

    /// <summary>Runs on the daemon's parent thread: a private mount namespace with the binds.</summary>
    private static void MountBinds(SharedDir dir)
    {
        Namespace.Unshare(Namespace.CLONE_NEWNS);
        // Host mounts still propagate in (a volume unmounted on the host goes here too); ours never leak out.
        Mount.Do("none", "/", "", Mount.MS_REC | Mount.MS_SLAVE);
        // The top holds only mount points, but the guest's root can write there (a privileged
        // container, code run through core_pattern): bounded, since it is host memory that no df
        // on the host shows (an unbounded tmpfs takes up to half of RAM).
        Mount.Do("vmsandbox-share", dir.HostPath, "tmpfs", Mount.MS_NOSUID | Mount.MS_NODEV, $"mode=0755,size={ShareTopBytes},nr_inodes={ShareTopInodes}");
        foreach (ShareBind bind in dir.Binds)
        {
            string target = Path.GetFullPath(Path.Combine(dir.HostPath, bind.Target));
            if (!target.StartsWith(dir.HostPath.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"share {dir.Tag}: bind target {bind.Target} leaves the share");
            }
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (Directory.Exists(bind.Source))
            {
                Directory.CreateDirectory(target);
            }
            else if (File.Exists(bind.Source))
            {
                File.WriteAllBytes(target, []);
            }
            else
            {
                throw new VmSandboxException(ErrorCode.NotFound, $"bind source {bind.Source}: no such file or directory");
            }
            Mount.Do(bind.Source, target, "", Mount.MS_BIND | Mount.MS_REC);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        _process.Dispose();
        SocketFile.TryRemove(SocketPath);
        File.Delete(SocketPath + ".pid");
    }
}
