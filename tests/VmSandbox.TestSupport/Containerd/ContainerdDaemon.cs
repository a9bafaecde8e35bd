using System.Diagnostics;

namespace VmSandbox.TestSupport.Containerd;

/// <summary>
/// A private containerd (Debian's 1.6, `make setup`) for the shim tests and the bench: its own config, root,
/// state, sockets and log in a temporary directory, so the system containerd's /run/containerd and
/// /var/lib/containerd are never used; a busybox image imported from an OCI archive built here
/// (<see cref="OciImageArchive"/>); stopped and cleaned up at the end (tasks, shims, the
/// snapshotter's overlay mounts, the directory). CRI is loaded too, as a kubelet's containerd
/// has it (ContainerdDaemon.Cri.cs): two handlers, runc's shim and ours, a pod network of the
/// tests' own, and the pause and busybox images in CRI's namespace.
/// Two things containerd 1.6 writes outside <c>state</c> whatever the config says: the runc
/// shim's socket under /run/containerd/s (named by a hash of our socket's path; removed with the
/// container when a killed shim left it) and the host cgroups /NAMESPACE/ID that ctr gives
/// containers (removed at the end when empty).
/// Set VMSANDBOX_TEST_CONTAINERD_LOG_LEVEL=debug for a debug log (containerd then also passes
/// `-debug` to the shims).
/// </summary>
public sealed partial class ContainerdDaemon : IAsyncDisposable
{
    public const string Namespace = "vmsbtest";
    public const string Image = "localhost/vmsb-busybox:test";

    /// <summary>CRI's pause image name: never pulled (no registry here); a CRI test imports it into k8s.io.</summary>
    public const string SandboxImage = "localhost/vmsb-pause:test";

    private const string ContainerdPath = "/usr/bin/containerd";
    private const string CtrPath = "/usr/bin/ctr";
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(20);

    // Short: containerd's sockets and the shims' bundles (and any socket a shim puts there) live
    // under it, within the 107-byte limit of a unix socket path.
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-c-").FullName;
    private readonly object _logLock = new();
    private readonly Func<CancellationToken> _cancellation;
    private Process? _containerd;
    private Task _logCopy = Task.CompletedTask;

    /// <param name="cancellation">
    /// What ends a CRI call early besides its deadline (a test's token, read at each call); none by default.
    /// </param>
    public ContainerdDaemon(Func<CancellationToken>? cancellation = null)
    {
        _cancellation = cancellation ?? (() => CancellationToken.None);
    }

    public string Socket => Path.Combine(_dir, "c.sock");

    public string Root => Path.Combine(_dir, "root");

    public string State => Path.Combine(_dir, "state");

    /// <summary>Where ctr makes its stdio FIFOs (`--fifo-dir`; its default is /run/containerd/fifo).</summary>
    public string FifoDir => Path.Combine(_dir, "fifo");

    public string LogPath => Path.Combine(_dir, "containerd.log");

    /// <summary>A scratch directory tests may write to (wrapper scripts, archives).</summary>
    public string Scratch => Directory.CreateDirectory(Path.Combine(_dir, "scratch")).FullName;

    /// <summary>The bundle containerd makes for a task: the shim's working directory.</summary>
    public string BundleOf(string id) => Path.Combine(State, "io.containerd.runtime.v2.task", Namespace, id);

    /// <summary>Starts containerd, waits until it answers, imports the images and connects the CRI client.</summary>
    public async ValueTask StartAsync()
    {
        foreach (string tool in (string[])[ContainerdPath, CtrPath, ShimRuntime.Runc.ShimPath])
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing: run `make setup` (Debian's containerd)");
            }
        }
        Directory.CreateDirectory(FifoDir);
        await PrepareCriAsync();
        File.WriteAllText(ConfigPath, Config());
        // The shims inherit containerd's environment: ours reads the guest image and the boot
        // timeout from it as the CLI does (docs/configuration.md), runc's ignores it.
        File.WriteAllText(VmSandboxConfigPath, "{}");
        await LaunchAsync();
        await ImportImagesAsync();
        StartCriClient();
    }

    private string ConfigPath => Path.Combine(_dir, "config.toml");

    private string VmSandboxConfigPath => Path.Combine(_dir, "vmsandbox.json");

    /// <summary>
    /// Stops containerd (SIGTERM, as systemd's restart does) and starts it again on the same root
    /// and state: running shims live on, and containerd reconnects to them from their bundles.
    /// </summary>
    public async Task RestartAsync()
    {
        Process old = _containerd ?? throw new InvalidOperationException("containerd is not started");
        _ = HostProcesses.Kill(old.Id, HostProcesses.SIGTERM);
        using (var cts = new CancellationTokenSource(s_stopTimeout))
        {
            await old.WaitForExitAsync(cts.Token);
        }
        // The old copy of its output goes on while shims it started hold the pipes.
        old.Dispose();
        await LaunchAsync();
    }

    /// <summary>Starts the containerd process and waits until it answers on its socket.</summary>
    private async Task LaunchAsync()
    {
        var psi = new ProcessStartInfo(ContainerdPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["--config", ConfigPath, "--log-level", LogLevel])
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["VMSANDBOX_CONFIG"] = VmSandboxConfigPath;
        psi.Environment["VMSANDBOX_GUEST__DIR"] = TestEnvironment.GuestDir;
        psi.Environment["VMSANDBOX_HYPERVISOR__BOOTTIMEOUTSECONDS"] = "180";
        // runc and the shims are found on PATH; a test runner's PATH may lack the sbin directories.
        // out/bin comes first, as /usr/local/bin does after `make install`: Debian's containerd
        // 1.6.20 ignores a CRI handler's runtime_path when it starts a pod's sandbox task and
        // looks the shim up by its name ("failed to resolve runtime path: runtime
        // \"io.containerd.vmsandbox.v2\" binary not installed"; ContainerdDaemon.Cri.cs).
        psi.Environment["PATH"] = $"{TestEnvironment.OutBin}:{Environment.GetEnvironmentVariable("PATH")}:/usr/local/sbin:/usr/sbin:/sbin";
        _containerd = Process.Start(psi) ?? throw new InvalidOperationException("start containerd: no process");
        _logCopy = Task.WhenAll(_logCopy, CopyToLog(_containerd.StandardOutput), CopyToLog(_containerd.StandardError));

        DateTime deadline = DateTime.UtcNow + s_startTimeout;
        while (true)
        {
            if (_containerd.HasExited)
            {
                throw new InvalidOperationException($"containerd exited with {_containerd.ExitCode} while starting: {LogTail(20)}");
            }
            if (File.Exists(Socket) && (await CtrAsync(["version"], TimeSpan.FromSeconds(10))).ExitCode == 0)
            {
                break;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"containerd did not answer on {Socket} within {s_startTimeout.TotalSeconds:0} s: {LogTail(20)}");
            }
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_containerd is { HasExited: false })
            {
                await RemoveAllPodsAsync();
                await RemoveEverythingAsync();
                _ = HostProcesses.Kill(_containerd.Id, HostProcesses.SIGTERM);
                using var cts = new CancellationTokenSource(s_stopTimeout);
                try
                {
                    await _containerd.WaitForExitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    _containerd.Kill();
                    await _containerd.WaitForExitAsync();
                }
            }
        }
        finally
        {
            try
            {
                await _logCopy.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                // A shim that outlived containerd holds its stderr: the log is complete enough.
            }
            _containerd?.Dispose();
            // Shims outlive containerd; ours were started with our socket as -address.
            foreach (HostProcesses.Proc shim in HostProcesses.All().Where(p => p.Argv.Contains(Socket)))
            {
                _ = HostProcesses.Kill(shim.Pid, HostProcesses.SIGKILL);
            }
            HostProcesses.UnmountUnder(_dir);
            await RemovePodNetworkAsync();
            RemoveEmptyCgroups();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // Something still busy (a mount a crashed shim left): the next boot clears /tmp.
            }
        }
    }

    /// <summary>Current end of containerd's log: pass it to <see cref="LogSince"/> later.</summary>
    public long LogMark()
    {
        lock (_logLock)
        {
            return File.Exists(LogPath) ? new FileInfo(LogPath).Length : 0;
        }
    }

    /// <summary>The last <paramref name="lines"/> lines containerd logged after <paramref name="mark"/>.</summary>
    public string LogSince(long mark, int lines = 60)
    {
        lock (_logLock)
        {
            if (!File.Exists(LogPath))
            {
                return "";
            }
            using var f = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            f.Seek(Math.Min(mark, f.Length), SeekOrigin.Begin);
            string[] all = new StreamReader(f).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join('\n', all.TakeLast(lines));
        }
    }

    private string LogTail(int lines) => LogSince(0, lines);

    private static string LogLevel => Environment.GetEnvironmentVariable("VMSANDBOX_TEST_CONTAINERD_LOG_LEVEL") is { Length: > 0 } level ? level : "info";

    private string Config() => $$"""
        version = 2
        root = "{{Root}}"
        state = "{{State}}"
        # Snapshotters and tracing the tests do not use. runtime.v1.linux stays: 1.6's tasks
        # service refuses to load without it.
        disabled_plugins = [
          "io.containerd.snapshotter.v1.aufs",
          "io.containerd.snapshotter.v1.btrfs",
          "io.containerd.snapshotter.v1.devmapper",
          "io.containerd.snapshotter.v1.zfs",
          "io.containerd.tracing.processor.v1.otlp",
          "io.containerd.internal.v1.tracing",
        ]

        [grpc]
          address = "{{Socket}}"

        [ttrpc]
          address = "{{Socket}}.ttrpc"

        [debug]
          address = ""

        [metrics]
          address = ""

        [plugins."io.containerd.internal.v1.opt"]
          path = "{{Path.Combine(_dir, "opt")}}"

        {{CriConfig()}}
        """;

    /// <summary>
    /// make-busybox-rootfs.sh's tree as two OCI archives: <see cref="Image"/>, imported into the
    /// ctr tests' namespace and CRI's, and CRI's pause image <see cref="SandboxImage"/> (the same
    /// tree running <see cref="PauseCommand"/>), imported into CRI's.
    /// </summary>
    private async Task ImportImagesAsync()
    {
        string work = Directory.CreateDirectory(Path.Combine(_dir, "image")).FullName;
        string rootfs = Path.Combine(work, "rootfs");
        CommandResult made = await ChildProcess.RunAsync(
            Path.Combine(TestEnvironment.RepoRoot, "packaging", "scripts", "make-busybox-rootfs.sh"), [rootfs], TimeSpan.FromMinutes(2));
        if (made.ExitCode != 0)
        {
            throw new InvalidOperationException($"make the image's rootfs: {made}");
        }
        string archive = Path.Combine(work, "image.tar");
        string manifest = OciImageArchive.Write(rootfs, Image, archive);
        await ImportAsync(Namespace, archive, Image, manifest);
        await ImportAsync(CriNamespace, archive, Image, manifest);
        string pauseArchive = Path.Combine(work, "pause.tar");
        string pauseManifest = OciImageArchive.Write(rootfs, SandboxImage, pauseArchive, entrypoint: PauseCommand, cmd: []);
        await ImportAsync(CriNamespace, pauseArchive, SandboxImage, pauseManifest);
        Directory.Delete(work, recursive: true);
    }

    private async Task ImportAsync(string ns, string archive, string image, string manifest)
    {
        // Not --index-name: ctr 1.6 then also names the index, whose blob an OCI layout does not
        // hold, and the import fails with "content digest …: not found".
        CommandResult imported = await CtrInAsync(ns, ["images", "import", archive], TimeSpan.FromMinutes(2));
        if (imported.ExitCode != 0)
        {
            throw new InvalidOperationException($"import {image} into namespace {ns}: {imported}");
        }
        CommandResult listed = await CtrInAsync(ns, ["images", "ls"], TimeSpan.FromSeconds(30));
        if (!listed.Stdout.Split('\n').Any(l => l.StartsWith(image + " ", StringComparison.Ordinal) && l.Contains(manifest, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"{image} ({manifest}) is not in `ctr -n {ns} images ls` after the import: {listed}");
        }
    }

    private async Task CopyToLog(StreamReader from)
    {
        string? line;
        while ((line = await from.ReadLineAsync()) is not null)
        {
            lock (_logLock)
            {
                File.AppendAllText(LogPath, line + "\n");
            }
        }
    }

    /// <summary>ctr's default cgroups path is /NAMESPACE/ID: runc removes each container's, nobody the namespace's.</summary>
    private static void RemoveEmptyCgroups()
    {
        // cgroup v2 has one tree at /sys/fs/cgroup, v1 one per controller below it.
        string[] trees = Directory.Exists("/sys/fs/cgroup") ? ["/sys/fs/cgroup", .. Directory.GetDirectories("/sys/fs/cgroup")] : [];
        foreach (string ns in trees.Select(t => Path.Combine(t, Namespace)).Where(Directory.Exists))
        {
            foreach (string dir in Directory.GetDirectories(ns, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(ns))
            {
                try
                {
                    Directory.Delete(dir); // rmdir(2): the kernel refuses while the cgroup holds processes
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
