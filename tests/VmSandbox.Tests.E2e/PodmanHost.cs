using System.Runtime.InteropServices;
using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Debian's podman (4.3, conmon, netavark) with vmsandbox from out/bin as its runtime and a
/// private store: its own --root, --runroot and --tmpdir under a temporary directory, so that a
/// user's podman images and containers are never touched, and a busybox image imported from a
/// local rootfs (no registry here). The default network ("podman", bridge podman0) is podman's
/// own, shared with the host's podman as podman shares it, and its address allocations are
/// released by `rm`. Missing podman fails the test: `make setup` installs it, as CI does.
/// </summary>
public sealed class PodmanHost : IAsyncDisposable
{
    public const string Client = "/usr/bin/podman";
    public const string Image = "localhost/vmsb-busybox:podman-e2e";

    // Short: conmon's attach socket lives under the run root (107-byte limit).
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-pm-").FullName;

    private PodmanHost()
    {
    }

    /// <summary>A scratch directory of this store (the host side of `podman cp`).</summary>
    public string Scratch => Directory.CreateDirectory(Path.Combine(_dir, "scratch")).FullName;

    /// <summary>Checks podman and the build, and imports the test image with /www/index.html holding <paramref name="page"/>.</summary>
    public static async Task<PodmanHost> StartAsync(string page)
    {
        foreach (string tool in new[] { Client, "/usr/bin/conmon" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing: run `make setup` (Debian's podman, which CI installs)");
            }
        }
        if (!File.Exists(DockerDaemon.CliPath))
        {
            throw new InvalidOperationException($"{DockerDaemon.CliPath} is missing: run `make build` first");
        }
        var host = new PodmanHost();
        try
        {
            await host.ImportImageAsync(page);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>podman against this store, with vmsandbox as the runtime.</summary>
    public Task<CommandResult> PodmanAsync(IReadOnlyList<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        DockerDaemon.RunAsync(Client,
        [
            "--root", Path.Combine(_dir, "root"),
            "--runroot", Path.Combine(_dir, "run"),
            "--tmpdir", Path.Combine(_dir, "tmp"),
            "--runtime", DockerDaemon.CliPath,
            // No systemd needed (podman falls back to these without it, with a warning each time).
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            .. args,
        ], stdin, timeout ?? TimeSpan.FromMinutes(3));

    /// <summary>Runs podman and fails the test, with its stderr, unless it exits with 0; returns stdout trimmed.</summary>
    public async Task<string> OkAsync(params string[] args)
    {
        CommandResult r = await PodmanAsync(args);
        Assert.True(r.ExitCode == 0, $"podman {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr}");
        return r.Stdout.Trim();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Client))
            {
                _ = await PodmanAsync(["rm", "--all", "--force", "--time", "0"], timeout: TimeSpan.FromMinutes(2));
                _ = await PodmanAsync(["rmi", "--all", "--force"], timeout: TimeSpan.FromMinutes(1));
            }
        }
        finally
        {
            UnmountUnder(_dir); // c/storage keeps <root>/overlay as a private bind mount of itself
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // A busy overlay left by a crash: leave it for the next boot.
            }
        }
    }

    private async Task ImportImageAsync(string page)
    {
        string rootfs = Path.Combine(_dir, "rootfs");
        CommandResult made = await DockerDaemon.RunAsync(Path.Combine(DockerDaemon.RepoRoot, "tests", "fixtures", "make-rootfs.sh"), [rootfs], null, TimeSpan.FromMinutes(2));
        Assert.True(made.ExitCode == 0, made.Stderr);
        Directory.CreateDirectory(Path.Combine(rootfs, "www"));
        File.WriteAllText(Path.Combine(rootfs, "www", "index.html"), page);
        string tar = Path.Combine(_dir, "rootfs.tar");
        CommandResult tarred = await DockerDaemon.RunAsync("/bin/tar", ["-C", rootfs, "-cf", tar, "."], null, TimeSpan.FromMinutes(2));
        Assert.True(tarred.ExitCode == 0, tarred.Stderr);
        _ = await OkAsync("import", "--change", "CMD [\"sh\"]", "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", tar, Image);
        Directory.Delete(rootfs, recursive: true);
        File.Delete(tar);
    }

    private static void UnmountUnder(string dir)
    {
        foreach (string target in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(t => t.StartsWith(dir, StringComparison.Ordinal)).Reverse())
        {
            _ = umount2(target, 2); // MNT_DETACH
        }
    }

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
    private static extern int umount2(string target, int flags);
}
