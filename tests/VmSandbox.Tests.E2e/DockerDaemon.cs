using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

[assembly: AssemblyFixture(typeof(VmSandbox.Tests.E2e.DockerDaemon))]

namespace VmSandbox.Tests.E2e;

/// <summary>
/// A private dockerd for the end-to-end tests, started here and stopped at the end: its own data
/// root, exec root, socket and bridge (so it never touches a system Docker), `vmsandbox`
/// registered as a runtime from out/bin, and a busybox image built locally with `docker import`
/// (no registry here). Debian's docker.io and containerd come from `make setup`. The suite shares
/// one (the assembly fixture); <see cref="StartAsync"/> starts another beside it for settings
/// dockerd cannot take by a reload.
/// </summary>
public sealed class DockerDaemon : IAsyncLifetime
{
    public const string Runtime = "vmsandbox";

    /// <summary>vmsandbox with a guest directory that does not exist (the "not installed" case).</summary>
    public const string NoGuestRuntime = "vmsandbox-noguest";
    public const string Image = "vmsb-busybox:e2e";

    /// <summary>vmsandbox with a warm pool of one VM (ADR 0018), its pool under a state root of its own.</summary>
    public const string PoolRuntime = "vmsandbox-pool";

    /// <summary>
    /// Each test's bound (xunit fails it and cancels TestContext's token): a hang in the runtime
    /// or in Docker fails that test instead of holding the suite until CI's limit. A row boots
    /// a VM or two under TCG, seconds each, well inside it.
    /// </summary>
    public const int TestTimeoutMs = 8 * 60 * 1000;
    private const string BridgeName = "vmsbe2e0";
    /// <summary>The test bridge's address on the host: the default network's gateway, where tests run their servers.</summary>
    public const string BridgeGateway = "172.31.250.1";
    private const string BridgeCidr = BridgeGateway + "/24";

    // Short: dockerd's and containerd's sockets live under it (107-byte limit).
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-e2e-").FullName;
    private readonly string _bridge;
    private readonly string _bridgeCidr;
    private readonly JsonObject _settings;
    private Process? _dockerd;
    private JsonObject? _config;
    private bool _bridgeCreated;

    /// <summary>The suite's daemon (the assembly fixture).</summary>
    public DockerDaemon()
        : this(BridgeName, BridgeCidr, [])
    {
    }

    private DockerDaemon(string bridge, string bridgeCidr, JsonObject settings)
    {
        _bridge = bridge;
        _bridgeCidr = bridgeCidr;
        _settings = settings;
    }

    /// <summary>
    /// Another private dockerd beside the suite's, with <paramref name="settings"/> added to its
    /// daemon.json (e.g. userns-remap, which dockerd reads only at start) and a bridge of its own
    /// (<paramref name="bridge"/>, <paramref name="bridgeCidr"/>): the same runtimes and image.
    /// The caller disposes it, which stops it and removes everything it made.
    /// </summary>
    public static async Task<DockerDaemon> StartAsync(string bridge, string bridgeCidr, JsonObject settings)
    {
        var daemon = new DockerDaemon(bridge, bridgeCidr, settings);
        try
        {
            await daemon.InitializeAsync();
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }
        return daemon;
    }

    /// <summary>This daemon's own directory: data root, exec root, socket, scratch (removed at the end).</summary>
    public string Dir => _dir;

    public static string RepoRoot { get; } = FindRoot();

    public static string CliPath => Path.Combine(RepoRoot, "out", "bin", "vmsandbox");

    public string Socket => Path.Combine(_dir, "docker.sock");

    public string Endpoint => "unix://" + Socket;

    /// <summary>Debian's client, not whatever else is first on PATH: its version matches the daemon.</summary>
    public static string DockerClient => File.Exists("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

    /// <summary>A scratch directory the tests may use for bind-mount sources.</summary>
    public string Scratch => Directory.CreateDirectory(Path.Combine(_dir, "scratch")).FullName;

    public async ValueTask InitializeAsync()
    {
        // Debian 12's dockerd (20.10) speaks API 1.41 at most; Testcontainers 4 asks for 1.44
        // unless told otherwise, and reads this before its first request.
        Environment.SetEnvironmentVariable("DOCKER_API_VERSION", "1.41");
        if (!File.Exists(CliPath) || !File.Exists(Path.Combine(RepoRoot, "out", "share", "vmsandbox", "guest", "initramfs.img")))
        {
            throw new InvalidOperationException($"{CliPath} or the guest image is missing: run `make build` first");
        }
        foreach (string tool in new[] { "/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/bin/docker" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing: run `make setup` (Debian's docker.io and containerd)");
            }
        }
        await MakeBridgeAsync();
        string noGuest = Path.Combine(_dir, NoGuestRuntime);
        File.WriteAllText(noGuest, $"#!/bin/sh\nexport VMSANDBOX_GUEST__DIR={_dir}/no-guest\nexec {CliPath} \"$@\"\n");
        File.SetUnixFileMode(noGuest, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string pool = Path.Combine(_dir, PoolRuntime);
        File.WriteAllText(pool, "#!/bin/sh\n" + string.Concat(PoolEnv.Select(e => $"export {e.Key}={e.Value}\n")) + $"exec {CliPath} \"$@\"\n");
        File.SetUnixFileMode(pool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var config = new JsonObject
        {
            ["runtimes"] = new JsonObject
            {
                [Runtime] = new JsonObject { ["path"] = CliPath },
                [NoGuestRuntime] = new JsonObject { ["path"] = noGuest },
                [PoolRuntime] = new JsonObject { ["path"] = pool },
            },
        };
        foreach (var (key, value) in _settings)
        {
            config[key] = value?.DeepClone();
        }
        if (_settings.ContainsKey("userns-remap"))
        {
            // dockerd refuses a data root below a directory the remapped root cannot search (o+x).
            File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
        _config = config;
        File.WriteAllText(Path.Combine(_dir, "daemon.json"), config.ToJsonString());
        await StartDaemonAsync();
        await BuildImageAsync();
    }

    /// <summary>Starts dockerd with this fixture's flags and waits until it answers.</summary>
    private async Task StartDaemonAsync()
    {
        var psi = new ProcessStartInfo("/usr/sbin/dockerd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])[
            "--config-file", Path.Combine(_dir, "daemon.json"),
            "--data-root", Path.Combine(_dir, "data"),
            "--exec-root", Path.Combine(_dir, "x"),
            "--pidfile", Path.Combine(_dir, "dockerd.pid"),
            "--host", Endpoint,
            "--bridge", _bridge,
            "--iptables=false",
            "--ip-masq=false",
            "--storage-driver", "overlay2",
            "--log-level", "warn"])
        {
            psi.ArgumentList.Add(a);
        }
        _dockerd = Process.Start(psi)!;
        string log = Path.Combine(_dir, "dockerd.log");
        _ = CopyToAsync(_dockerd.StandardOutput, log);
        _ = CopyToAsync(_dockerd.StandardError, log);

        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            if (_dockerd.HasExited)
            {
                throw new InvalidOperationException($"dockerd exited with {_dockerd.ExitCode}: {Tail(log)}");
            }
            if (File.Exists(Socket) && (await DockerAsync(["version", "--format", "{{.Server.Version}}"], timeout: TimeSpan.FromSeconds(20))).ExitCode == 0)
            {
                break;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"dockerd did not answer within 90 s: {Tail(log)}");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>
    /// Stops dockerd (SIGTERM, as systemd does; with live-restore off it stops the containers
    /// first) and starts it again on the same data: the "dockerd restarted" fault. Returns the
    /// seconds the stop took.
    /// </summary>
    public async Task<double> RestartAsync()
    {
        var clock = Stopwatch.StartNew();
        if (_dockerd is { HasExited: false })
        {
            _ = Kill(_dockerd.Id, 15);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await _dockerd.WaitForExitAsync(cts.Token);
        }
        double stopped = clock.Elapsed.TotalSeconds;
        _dockerd?.Dispose();
        await StartDaemonAsync();
        return stopped;
    }

    /// <summary>Turns live-restore on or off in daemon.json and has dockerd reload it (SIGHUP: live-restore is reloadable).</summary>
    public async Task SetLiveRestoreAsync(bool on)
    {
        _config!["live-restore"] = on;
        File.WriteAllText(Path.Combine(_dir, "daemon.json"), _config.ToJsonString());
        _ = Kill(_dockerd!.Id, 1);
        for (int i = 0; i < 100; i++)
        {
            CommandResult info = await DockerAsync(["info", "--format", "{{.LiveRestoreEnabled}}"], timeout: TimeSpan.FromSeconds(20));
            if (info.Stdout.Trim() == (on ? "true" : "false"))
            {
                return;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"dockerd did not take live-restore={on}");
    }

    /// <summary>The environment of <see cref="PoolRuntime"/>'s calls.</summary>
    public IReadOnlyDictionary<string, string> PoolEnv => new Dictionary<string, string>
    {
        ["VMSANDBOX_POOL__SIZE"] = "1",
        ["VMSANDBOX_STATEROOT"] = Path.Combine(_dir, "pr"),
    };

    /// <summary>Where <see cref="PoolRuntime"/>'s pooled VMs live.</summary>
    public string PoolDir => Path.Combine(_dir, "pr", ".pool");

    /// <summary>`vmsandbox pool ARGS` as <see cref="PoolRuntime"/> sees the pool.</summary>
    public Task<CommandResult> PoolAsync(params string[] args) => RunAsync(Path.Combine(_dir, PoolRuntime), ["pool", .. args], null, TimeSpan.FromMinutes(4));

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_dockerd is { HasExited: false })
            {
                var ids = await DockerAsync(["ps", "-aq"], timeout: TimeSpan.FromSeconds(30));
                foreach (string id in ids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    _ = await DockerAsync(["rm", "-f", id], timeout: TimeSpan.FromMinutes(1));
                }
                _ = await PoolAsync("drain");
                _ = Kill(_dockerd.Id, 15);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                try
                {
                    await _dockerd.WaitForExitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    _dockerd.Kill(entireProcessTree: true);
                }
            }
        }
        finally
        {
            _dockerd?.Dispose();
            UnmountUnder(_dir);
            if (_bridgeCreated)
            {
                _ = await RunAsync("/usr/sbin/ip", ["link", "delete", _bridge], null, TimeSpan.FromSeconds(10));
            }
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // A busy overlay left by a crashed daemon: leave it for the next boot.
            }
        }
    }

    /// <summary>Sandbox monitors, QEMUs and virtiofsds of this daemon's containers (their command lines name our directory or a container's VM).</summary>
    public List<string> SandboxProcesses()
    {
        var found = new List<string>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if ((cmdline.Contains("__monitor", StringComparison.Ordinal) || cmdline.Contains("qemu-system", StringComparison.Ordinal) || cmdline.Contains("virtiofsd", StringComparison.Ordinal))
                    && (cmdline.Contains(_dir, StringComparison.Ordinal) || cmdline.Contains("-name vmsandbox-", StringComparison.Ordinal) || cmdline.Contains("/vmsandbox/.s/", StringComparison.Ordinal)))
                {
                    found.Add($"{Path.GetFileName(dir)}: {cmdline.Trim()}");
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    /// <summary>Container state directories under the runtime roots dockerd gives vmsandbox.</summary>
    public List<string> RuntimeState()
    {
        string roots = Path.Combine(_dir, "x");
        return Directory.Exists(roots)
            ? Directory.GetDirectories(roots, "runtime-*").SelectMany(r => Directory.GetDirectories(r, "*", SearchOption.AllDirectories))
                .Where(d => File.Exists(Path.Combine(d, "state.json")) || File.Exists(Path.Combine(d, "config.json"))).ToList()
            : [];
    }

    /// <summary>Host cgroup directories left under /docker (runc removes its own; so must we).</summary>
    public static List<string> HostCgroupsLeft() =>
        Directory.Exists("/sys/fs/cgroup")
            ? Directory.GetDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, "docker")).Where(Directory.Exists)
                .SelectMany(Directory.GetDirectories).ToList()
            : [];

    /// <summary>Runs the docker client against this daemon.</summary>
    public Task<CommandResult> DockerAsync(IReadOnlyList<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        RunAsync(DockerClient, ["--host", Endpoint, .. args], stdin, timeout ?? TimeSpan.FromMinutes(3));

    /// <summary>
    /// A POST to this daemon's Engine API (API 1.41, as the client uses): what the docker CLI
    /// sends when a terminal's window changes (`/containers/ID/resize`, `/exec/ID/resize`) and
    /// other calls the CLI has no command for. Returns the HTTP status and the body.
    /// </summary>
    public async Task<(int Status, string Body)> ApiPostAsync(string pathAndQuery, string? json = null)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Socket), ct);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://docker/v1.41/"), Timeout = TimeSpan.FromMinutes(1) };
        using var content = new StringContent(json ?? "", System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await http.PostAsync(pathAndQuery.TrimStart('/'), json is null ? null : content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<CommandResult> RunAsync(string file, IReadOnlyList<string> args, string? stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
            // A process left behind holding the pipes must not keep us waiting for EOF either.
            await Task.WhenAll(stdout, stderr).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran past {timeout} (or its output stayed open)");
        }
        return new CommandResult(p.ExitCode, await stdout, await stderr);
    }

    private async Task MakeBridgeAsync()
    {
        _bridgeCreated = true; // ours by name: one a crashed run left behind is reused, then removed
        if (Directory.Exists($"/sys/class/net/{_bridge}"))
        {
            return;
        }
        foreach (string[] args in (string[][])[
            ["link", "add", _bridge, "type", "bridge"],
            ["addr", "add", _bridgeCidr, "dev", _bridge],
            ["link", "set", _bridge, "up"]])
        {
            CommandResult r = await RunAsync("/usr/sbin/ip", args, null, TimeSpan.FromSeconds(10));
            if (r.ExitCode != 0)
            {
                throw new InvalidOperationException($"ip {string.Join(' ', args)}: {r.Stderr.Trim()}");
            }
        }
    }

    /// <summary>A busybox-static rootfs (tests/fixtures/make-rootfs.sh) imported as an image.</summary>
    private async Task BuildImageAsync()
    {
        string rootfs = Path.Combine(_dir, "rootfs");
        CommandResult made = await RunAsync(Path.Combine(RepoRoot, "tests", "fixtures", "make-rootfs.sh"), [rootfs], null, TimeSpan.FromMinutes(2));
        Assert.True(made.ExitCode == 0, made.Stderr);
        await ImportAsync(rootfs, Image);
    }

    /// <summary>`docker import` of a rootfs directory (removed afterwards) as <paramref name="tag"/>, with sh as its command and the usual PATH.</summary>
    public async Task ImportAsync(string rootfs, string tag)
    {
        string tar = rootfs.TrimEnd('/') + ".tar";
        CommandResult tarred = await RunAsync("/bin/tar", ["-C", rootfs, "-cf", tar, "."], null, TimeSpan.FromMinutes(2));
        Assert.True(tarred.ExitCode == 0, tarred.Stderr);
        CommandResult imported = await DockerAsync(["import", "--change", "CMD [\"sh\"]", "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", tar, tag]);
        Assert.True(imported.ExitCode == 0, imported.Stderr);
        Directory.Delete(rootfs, recursive: true);
        File.Delete(tar);
    }

    private static void UnmountUnder(string dir)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/mounts");
        }
        catch (IOException)
        {
            return;
        }
        foreach (string target in lines.Select(l => l.Split(' ')[1]).Where(t => t.StartsWith(dir, StringComparison.Ordinal)).Reverse())
        {
            _ = umount2(target, 2); // MNT_DETACH
        }
    }

    private static string Tail(string path)
    {
        try
        {
            string text = File.ReadAllText(path);
            return text.Length > 2000 ? text[^2000..] : text;
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static async Task CopyToAsync(StreamReader from, string path)
    {
        string? line;
        while ((line = await from.ReadLineAsync()) is not null)
        {
            lock (s_logLock)
            {
                File.AppendAllText(path, line + "\n");
            }
        }
    }

    private static readonly object s_logLock = new();

    private static string FindRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "VmSandbox.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new InvalidOperationException("repository root not found");
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
    private static extern int umount2(string target, int flags);

    private static bool Kill(int pid, int sig) => kill(pid, sig) == 0;
}

public sealed record CommandResult(int ExitCode, string Stdout, string Stderr);
