using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace VmSandbox.Bench;

/// <summary>
/// A private dockerd for the Docker sections, as the end-to-end tests start one: its own data
/// root, exec root, socket and bridge under a temp dir (never the system Docker), vmsandbox
/// (the built out/bin/vmsandbox) and runsc registered in its daemon.json (runsc with
/// `--network=none`, as Docker needs on these machines; runc is dockerd's own), and a busybox
/// image built locally with `docker import` (no registry here). Disposing removes every
/// container, the daemon, the bridge and the temp dir; so does SIGINT or SIGTERM (<see cref="Teardown"/>).
/// </summary>
internal sealed class BenchDockerd : IDisposable
{
    public const string BusyboxImage = "vmsb-bench-busybox:local";
    public const string Runsc = "/usr/bin/runsc";
    private const string BridgeName = "vmsbbdock0";
    private const string BridgeCidr = "172.31.252.1/24";

    private readonly string _dir;
    private readonly Process _dockerd;
    private readonly IDisposable _teardown;
    private int _names;

    /// <summary>The runtimes to compare, by their daemon.json name; runsc only where it is installed.</summary>
    public IReadOnlyList<string> Runtimes { get; }

    /// <summary>vmsandbox with a warm pool of one VM (ADR 0018), registered besides: not one of <see cref="Runtimes"/>.</summary>
    public const string PoolRuntime = "vmsandbox-pool";

    /// <summary>Where <see cref="PoolRuntime"/>'s pooled VMs live (its own state root).</summary>
    public string PoolDir => Path.Combine(_dir, "pr", ".pool");

    /// <summary>`vmsandbox pool ARGS` as <see cref="PoolRuntime"/> sees its pool.</summary>
    public (int Rc, string Stdout, string Stderr) Pool(params string[] args) =>
        Program.Run(Path.Combine(_dir, PoolRuntime), ["pool", .. args], TimeSpan.FromMinutes(4));

    public string Socket => Path.Combine(_dir, "docker.sock");

    /// <summary>Debian's client, not whatever else is first on PATH: its version matches the daemon.</summary>
    public static string Client => File.Exists("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

    /// <summary>A scratch directory for bind-mount sources, removed with the daemon.</summary>
    public string Scratch => Directory.CreateDirectory(Path.Combine(_dir, "scratch")).FullName;

    /// <summary>Starts the daemon and builds the busybox image, or throws saying what is missing.</summary>
    public static BenchDockerd Start(string vmsandbox)
    {
        foreach (string tool in new[] { "/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/sbin/ip" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing (fix: `make setup`)");
            }
        }
        if (!File.Exists(vmsandbox))
        {
            throw new InvalidOperationException($"{vmsandbox} is missing (fix: `make build`)");
        }
        return new BenchDockerd(Path.GetFullPath(vmsandbox));
    }

    /// <summary>The runtime's phase log (diagnostics.phaseLog) for every container of this dockerd.</summary>
    public string PhaseLogPath => Path.Combine(_dir, "phases.log");

    private BenchDockerd(string vmsandbox)
    {
        // Short: dockerd's and containerd's sockets live under it (107-byte limit).
        _dir = Directory.CreateTempSubdirectory("vmsbb-").FullName;
        Environment.SetEnvironmentVariable("DOCKER_API_VERSION", "1.41"); // Debian's dockerd 20.10, for a newer client on PATH
        string pool = Path.Combine(_dir, PoolRuntime);
        File.WriteAllText(pool, $"#!/bin/sh\nexport VMSANDBOX_POOL__SIZE=1 VMSANDBOX_STATEROOT={Path.Combine(_dir, "pr")}\nexec {vmsandbox} \"$@\"\n");
        File.SetUnixFileMode(pool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var runtimes = new JsonObject { ["vmsandbox"] = new JsonObject { ["path"] = vmsandbox }, [PoolRuntime] = new JsonObject { ["path"] = pool } };
        var names = new List<string> { "vmsandbox", "runc" };
        if (File.Exists(Runsc))
        {
            runtimes["runsc"] = new JsonObject { ["path"] = Runsc, ["runtimeArgs"] = new JsonArray("--network=none") };
            names.Add("runsc");
        }
        Runtimes = names;
        File.WriteAllText(Path.Combine(_dir, "daemon.json"), new JsonObject { ["runtimes"] = runtimes }.ToJsonString());
        MakeBridge();
        var psi = new ProcessStartInfo("/usr/sbin/dockerd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Handed down through containerd and the shim to every vmsandbox call (docker-run's phases).
        psi.Environment["VMSANDBOX_DIAGNOSTICS__PHASELOG"] = PhaseLogPath;
        foreach (string a in (string[])[
            "--config-file", Path.Combine(_dir, "daemon.json"), "--data-root", Path.Combine(_dir, "data"),
            "--exec-root", Path.Combine(_dir, "x"), "--pidfile", Path.Combine(_dir, "dockerd.pid"),
            "--host", "unix://" + Socket, "--bridge", BridgeName, "--iptables=false", "--ip-masq=false",
            "--storage-driver", "overlay2", "--log-level", "warn"])
        {
            psi.ArgumentList.Add(a);
        }
        _dockerd = Process.Start(psi)!;
        _teardown = Teardown.Register("the bench's dockerd", Stop);
        string log = Path.Combine(_dir, "dockerd.log");
        _ = CopyToAsync(_dockerd.StandardOutput, log);
        _ = CopyToAsync(_dockerd.StandardError, log);
        try
        {
            var deadline = Stopwatch.StartNew();
            while (!(File.Exists(Socket) && Docker(["version", "--format", "{{.Server.Version}}"], TimeSpan.FromSeconds(20)).Rc == 0))
            {
                if (_dockerd.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(90))
                {
                    throw new InvalidOperationException($"the bench's dockerd did not answer within 90 s: {Tail(log)}");
                }
                Thread.Sleep(500);
            }
            string rootfs = Path.Combine(_dir, "rootfs-busybox");
            Must(Program.Run("packaging/scripts/make-busybox-rootfs.sh", [rootfs], TimeSpan.FromMinutes(2)), "the busybox rootfs");
            Import(rootfs, BusyboxImage);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>`docker ARGS` against this daemon.</summary>
    public (int Rc, string Stdout, string Stderr) Docker(string[] args, TimeSpan? timeout = null) =>
        Program.Run(Client, ["--host", "unix://" + Socket, .. args], timeout ?? TimeSpan.FromMinutes(5));

    /// <summary>A shell command line that runs this daemon's client (for pipelines).</summary>
    public string ClientCommand => $"{Client} --host unix://{Socket}";

    /// <summary>A container name unique to this run.</summary>
    public string NewName(string what) => $"vmsbb-{what}-{Interlocked.Increment(ref _names).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>`docker import` of a rootfs directory (removed afterwards) as <paramref name="tag"/>, with sh as its command and the usual PATH.</summary>
    public void Import(string rootfs, string tag)
    {
        string tar = rootfs.TrimEnd('/') + ".tar";
        Must(Program.Run("/bin/tar", ["-C", rootfs, "-cf", tar, "."], TimeSpan.FromMinutes(5)), "tar of the rootfs");
        Must(Docker(["import", "--change", "CMD [\"sh\"]", "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", tar, tag], TimeSpan.FromMinutes(10)), $"docker import {tag}");
        Directory.Delete(rootfs, recursive: true);
        File.Delete(tar);
    }

    /// <summary>Throws with the command's last error line when it failed.</summary>
    public static string Must((int Rc, string Stdout, string Stderr) r, string what) =>
        r.Rc == 0 ? r.Stdout : throw new InvalidOperationException($"{what} failed (exit {r.Rc}): {OneLine(r.Stderr)}");

    public static string OneLine(string s) => s.Trim().Split('\n')[^1].Replace("|", "/", StringComparison.Ordinal);

    public void Dispose() => _teardown.Dispose();

    private void Stop()
    {
        if (!_dockerd.HasExited)
        {
            foreach (string id in Docker(["ps", "-aq"], TimeSpan.FromSeconds(60)).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Docker(["rm", "-f", id], TimeSpan.FromMinutes(2));
            }
            Pool("drain");
            Program.Run("/bin/kill", ["-TERM", _dockerd.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
            if (!_dockerd.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                _dockerd.Kill(entireProcessTree: true);
                _dockerd.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        _dockerd.Dispose();
        // Mounts the daemon left (overlays, its exec root), deepest first.
        foreach (string target in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(t => t.StartsWith(_dir, StringComparison.Ordinal)).Reverse())
        {
            Program.Run("/bin/umount", ["-l", target], TimeSpan.FromSeconds(30));
        }
        Program.Run("/usr/sbin/ip", ["link", "delete", BridgeName], TimeSpan.FromSeconds(10));
        Directory.Delete(_dir, recursive: true);
    }

    private static void MakeBridge()
    {
        if (Directory.Exists($"/sys/class/net/{BridgeName}"))
        {
            Program.Run("/usr/sbin/ip", ["link", "delete", BridgeName], TimeSpan.FromSeconds(10)); // ours by name, left by a run that was killed
        }
        foreach (string[] args in (string[][])[["link", "add", BridgeName, "type", "bridge"], ["addr", "add", BridgeCidr, "dev", BridgeName], ["link", "set", BridgeName, "up"]])
        {
            Must(Program.Run("/usr/sbin/ip", args, TimeSpan.FromSeconds(10)), $"ip {string.Join(' ', args)}");
        }
    }

    private static string Tail(string path)
    {
        try
        {
            string text = File.ReadAllText(path);
            return text.Length > 1000 ? text[^1000..] : text;
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
}
