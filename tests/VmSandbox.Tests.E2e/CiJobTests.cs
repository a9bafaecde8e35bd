using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// A CI job the way a CI runner's Docker executor runs one, every container under vmsandbox: a
/// user-defined network, a service container reached by its network alias, a job container that
/// stays up (`sleep`) while the runner sends it its steps with `docker exec` (clone from a git
/// daemon on the bridge's gateway, build, test against the service), the result copied out with
/// `docker cp`, then everything removed, and nothing of it left on the host.
/// </summary>
public sealed class CiJobTests
{
    private const string GitImage = "vmsb-git:e2e";
    private static readonly TimeSpan s_step = TimeSpan.FromMinutes(2);

    private readonly DockerDaemon _daemon;

    public CiJobTests(DockerDaemon daemon)
    {
        _daemon = daemon;
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_ci_job_clones_builds_tests_against_a_service_and_leaves_nothing()
    {
        await BuildGitImageAsync();
        string work = Directory.CreateDirectory(Path.Combine(_daemon.Scratch, $"ci-{Guid.NewGuid():N}")).FullName;
        string commit = await MakeRepoAsync(Path.Combine(work, "srv", "repo"));
        string[] processesBefore = [.. _daemon.SandboxProcesses()];
        string[] stateBefore = [.. _daemon.RuntimeState()];
        string[] cgroupsBefore = [.. DockerDaemon.HostCgroupsLeft()];

        string suffix = Guid.NewGuid().ToString("N")[..8];
        string network = $"vmsb-ci-{suffix}", service = $"vmsb-ci-db-{suffix}", job = $"vmsb-ci-job-{suffix}";
        var sandboxKeys = new List<string>();
        string? bridge = null;
        (Process gitDaemon, int port) = await StartGitDaemonAsync(Path.Combine(work, "srv"));
        try
        {
            string networkId = Ok(await _daemon.DockerAsync(["network", "create", network]), "network create").Trim();
            bridge = "br-" + networkId[..12];
            Ok(await _daemon.DockerAsync(["run", "-d", "--runtime", DockerDaemon.Runtime, "--name", service, "--network", network, "--network-alias", "db",
                DockerDaemon.Image, "sh", "-c", "mkdir -p /www && echo pong > /www/ping && exec httpd -f -p 8080 -h /www"]), "service container");
            Ok(await _daemon.DockerAsync(["run", "-d", "--runtime", DockerDaemon.Runtime, "--name", job, "--network", network, "-w", "/builds",
                GitImage, "sleep", "1000"]), "job container");
            foreach (string c in (string[])[service, job])
            {
                sandboxKeys.Add(Ok(await _daemon.DockerAsync(["inspect", "--format", "{{.NetworkSettings.SandboxKey}}", c]), "inspect").Trim());
            }
            // The positive control for the clean-up checks below: while the job runs, its
            // namespace holds the VM's tap and the sandbox's processes.
            string running = await NamespaceLeftoversAsync(sandboxKeys[1]);
            Assert.Contains("vmstap", running, StringComparison.Ordinal);
            Assert.Contains("pid ", running, StringComparison.Ordinal);

            Ok(await Exec(job, "/builds", "git", "clone", "-q", $"git://{DockerDaemon.BridgeGateway}:{port}/repo", "project"), "clone step");
            Ok(await Exec(job, "/builds/project", "./build"), "build step");
            string test = Ok(await Exec(job, "/builds/project", "./test"), "test step");
            Assert.Contains("db answered: pong", test, StringComparison.Ordinal);

            string copied = Path.Combine(work, "artifact");
            Ok(await _daemon.DockerAsync(["cp", $"{job}:/builds/project/out/result.txt", copied]), "docker cp");
            Assert.Equal($"built {commit}\ndb answered: pong\n", File.ReadAllText(copied));
        }
        finally
        {
            gitDaemon.Kill(entireProcessTree: true);
            gitDaemon.Dispose();
            _ = await _daemon.DockerAsync(["rm", "-f", job, service]);
            _ = await _daemon.DockerAsync(["network", "rm", network]);
        }

        CommandResult ps = await _daemon.DockerAsync(["ps", "-a", "--filter", $"name={suffix}", "--format", "{{.Names}}"]);
        Assert.Equal("", ps.Stdout.Trim());
        // Bounded: the sandboxes' processes may take a moment to be reaped after docker returned.
        for (int i = 0; i < 40 && _daemon.SandboxProcesses().Except(processesBefore).Any(); i++)
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
        Assert.Empty(_daemon.SandboxProcesses().Except(processesBefore));
        Assert.Empty(_daemon.RuntimeState().Except(stateBefore));
        Assert.Empty(DockerDaemon.HostCgroupsLeft().Except(cgroupsBefore));
        // Docker's namespaces are released or hold nothing (libnetwork removes their files on its
        // own garbage-collection timer, up to a minute later, under runc too), the network's
        // bridge is gone, and no tap of ours ever sits in the host's namespace.
        foreach (string key in sandboxKeys)
        {
            Assert.Equal("", await NamespaceLeftoversAsync(key));
        }
        Assert.False(Directory.Exists($"/sys/class/net/{bridge}"), $"bridge {bridge} is left");
        string links = Ok(await DockerDaemon.RunAsync("/usr/sbin/ip", ["-o", "link"], null, s_step), "ip link");
        Assert.DoesNotContain("vmstap", links, StringComparison.Ordinal);
    }

    /// <summary>
    /// What is left in a container's network namespace while Docker's file still holds it (a
    /// bind mount of the namespace): links other than lo (a tap, the veth) and processes inside
    /// it. Empty once the file is unmounted (libnetwork removes the file itself later).
    /// </summary>
    private static async Task<string> NamespaceLeftoversAsync(string key)
    {
        if (!File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ')[1] == key))
        {
            return "";
        }
        string inode = Ok(await DockerDaemon.RunAsync("/usr/bin/stat", ["-L", "-c", "%i", key], null, s_step), $"stat {key}");
        string links = Ok(await DockerDaemon.RunAsync("/usr/bin/nsenter", [$"--net={key}", "/usr/sbin/ip", "-o", "link"], null, s_step), $"ip link in {key}");
        string inside = $"net:[{inode.Trim()}]";
        IEnumerable<string> pids = Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsAsciiDigit)).Where(p =>
        {
            try
            {
                return new FileInfo($"/proc/{p}/ns/net").LinkTarget == inside;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        })!;
        return string.Join(' ', links.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains(" lo:", StringComparison.Ordinal)).Concat(pids.Select(p => $"pid {p}")));
    }

    /// <summary>`docker exec -w DIR CONTAINER COMMAND…`, bounded as a runner bounds a step.</summary>
    private Task<CommandResult> Exec(string container, string dir, params string[] command) =>
        _daemon.DockerAsync(["exec", "-w", dir, container, .. command], timeout: s_step);

    private static string Ok(CommandResult r, string what)
    {
        Assert.True(r.ExitCode == 0, $"{what} exited {r.ExitCode}: {r.Stdout.Trim()} {r.Stderr.Trim()}");
        return r.Stdout;
    }

    /// <summary>
    /// The busybox image plus Debian's git (the binary and the libraries it links; git runs its
    /// helpers such as index-pack as `git` from /usr/lib/git-core), imported without a registry.
    /// </summary>
    private async Task BuildGitImageAsync()
    {
        if ((await _daemon.DockerAsync(["image", "inspect", GitImage])).ExitCode == 0)
        {
            return;
        }
        Assert.True(File.Exists("/usr/bin/git"), "/usr/bin/git is missing: run `make setup`");
        string rootfs = Path.Combine(_daemon.Scratch, "git-rootfs");
        string fixtures = Path.Combine(DockerDaemon.RepoRoot, "tests", "fixtures");
        Ok(await DockerDaemon.RunAsync(Path.Combine(fixtures, "make-rootfs.sh"), [rootfs], null, s_step), "make-rootfs.sh");
        Ok(await DockerDaemon.RunAsync(Path.Combine(fixtures, "add-host-binaries.sh"), [rootfs, "/usr/bin/git"], null, s_step), "add-host-binaries.sh");
        File.CreateSymbolicLink(Path.Combine(Directory.CreateDirectory(Path.Combine(rootfs, "usr", "lib", "git-core")).FullName, "git"), "/usr/bin/git");
        Directory.CreateDirectory(Path.Combine(rootfs, "usr", "share", "git-core", "templates")); // else every clone warns
        await _daemon.ImportAsync(rootfs, GitImage);
    }

    /// <summary>The project the job builds: a build script that writes an artifact, and a test that asks the service. Returns its commit.</summary>
    private static async Task<string> MakeRepoAsync(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "build"), """
            #!/bin/sh
            set -e
            mkdir -p out
            echo "built $(git rev-parse HEAD)" > out/result.txt

            """);
        // Debian 12's busybox-static `wget -T` crashes: each try is bounded by `timeout` instead,
        // and the tries by the step's bound; the service may still be starting.
        File.WriteAllText(Path.Combine(dir, "test"), """
            #!/bin/sh
            for try in 1 2 3 4 5 6 7 8 9 10; do
                reply=$(timeout 5 wget -q -O - http://db:8080/ping) && break
                sleep 1
            done
            [ "$reply" = pong ] || { echo "db did not answer: '$reply'" >&2; exit 1; }
            echo "db answered: $reply" | tee -a out/result.txt

            """);
        foreach (string script in (string[])["build", "test"])
        {
            File.SetUnixFileMode(Path.Combine(dir, script), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        foreach (string[] args in (string[][])[
            ["init", "-q", "-b", "main"],
            ["add", "build", "test"],
            ["-c", "user.name=vmsandbox e2e", "-c", "user.email=e2e@vmsandbox.invalid", "commit", "-q", "-m", "a project to build"]])
        {
            Ok(await DockerDaemon.RunAsync("/usr/bin/git", ["-C", dir, .. args], null, s_step), $"git {args[0]}");
        }
        return Ok(await DockerDaemon.RunAsync("/usr/bin/git", ["-C", dir, "rev-parse", "HEAD"], null, s_step), "git rev-parse").Trim();
    }

    /// <summary>
    /// `git daemon` on the test bridge's gateway (never a public address) on a free port,
    /// serving <paramref name="baseDir"/>; returns once it accepts connections.
    /// </summary>
    private static async Task<(Process Daemon, int Port)> StartGitDaemonAsync(string baseDir)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Parse(DockerDaemon.BridgeGateway), 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var psi = new ProcessStartInfo("/usr/bin/git") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["daemon", "--reuseaddr", $"--base-path={baseDir}", "--export-all", $"--listen={DockerDaemon.BridgeGateway}", $"--port={port}"])
        {
            psi.ArgumentList.Add(a);
        }
        var daemon = Process.Start(psi)!;
        Task<string> stderr = daemon.StandardError.ReadToEndAsync();
        _ = daemon.StandardOutput.ReadToEndAsync();
        for (int i = 0; i < 40; i++)
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Parse(DockerDaemon.BridgeGateway), port);
                return (daemon, port);
            }
            catch (SocketException) when (!daemon.HasExited)
            {
                await Task.Delay(250);
            }
        }
        daemon.Kill(entireProcessTree: true);
        await daemon.WaitForExitAsync();
        string why = await stderr;
        daemon.Dispose();
        throw new TimeoutException($"git daemon did not listen on {DockerDaemon.BridgeGateway}:{port}: {why.Trim()}");
    }
}
