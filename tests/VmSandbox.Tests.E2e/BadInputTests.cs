using Xunit;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace VmSandbox.Tests.E2e;

/// <summary>
/// What a Docker user sees when something is wrong, and that nothing is left behind in Docker or
/// on the host: no container, no sandbox monitor, QEMU or virtiofsd, no state under the runtime
/// root, no host cgroup. (A missing entrypoint, 127, is a row of the parity table.)
/// </summary>
public sealed class BadInputTests
{
    private readonly DockerDaemon _daemon;

    public BadInputTests(DockerDaemon daemon)
    {
        _daemon = daemon;
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_missing_guest_image_names_make_install_and_leaves_nothing()
    {
        var before = Snapshot();
        CommandResult r = await _daemon.DockerAsync(["run", "--rm", "--name", "noguest", "--runtime", DockerDaemon.NoGuestRuntime, DockerDaemon.Image, "true"]);
        Assert.Equal(125, r.ExitCode); // Docker's code for a runtime that failed otherwise
        Assert.Contains("vmsandbox guest image is not installed", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("make install", r.Stderr, StringComparison.Ordinal);
        await AssertNothingLeftAsync("noguest", before);
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_missing_bind_source_is_refused_as_with_runc()
    {
        foreach (string runtime in (string[])["runc", DockerDaemon.Runtime])
        {
            var before = Snapshot();
            CommandResult r = await _daemon.DockerAsync(["run", "--rm", "--name", "nosource", "--runtime", runtime,
                "--mount", "type=bind,source=/nonexistent/vmsb-source,target=/x", DockerDaemon.Image, "true"]);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("bind source path does not exist", r.Stderr, StringComparison.Ordinal);
            await AssertNothingLeftAsync("nosource", before);
        }
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_failing_create_in_the_guest_leaves_nothing()
    {
        // The entrypoint is missing: the guest's container init fails after the VM booted.
        var before = Snapshot();
        CommandResult r = await _daemon.DockerAsync(["run", "--rm", "--name", "badcwd", "--runtime", DockerDaemon.Runtime, DockerDaemon.Image, "/no/such/entrypoint"]);
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("OCI runtime create failed", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("no such file or directory", r.Stderr, StringComparison.Ordinal);
        await AssertNothingLeftAsync("badcwd", before);
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Host_network_is_refused_in_one_line_and_leaves_nothing()
    {
        var before = Snapshot();
        CommandResult r = await _daemon.DockerAsync(["run", "--rm", "--name", "hostnet", "--runtime", DockerDaemon.Runtime, "--network", "host", DockerDaemon.Image, "true"]);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("the host's network namespace cannot be shared (--network host)", r.Stderr, StringComparison.Ordinal);
        await AssertNothingLeftAsync("hostnet", before);
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Another_containers_network_is_refused_in_one_line_and_leaves_nothing()
    {
        CommandResult first = await _daemon.DockerAsync(["run", "-d", "--name", "netowner", "--runtime", "runc", DockerDaemon.Image, "sleep", "300"]);
        Assert.True(first.ExitCode == 0, first.Stderr);
        try
        {
            var before = Snapshot();
            CommandResult r = await _daemon.DockerAsync(["run", "--rm", "--name", "netjoiner", "--runtime", DockerDaemon.Runtime, "--network", "container:netowner", DockerDaemon.Image, "true"]);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("cannot be joined (--network container:…)", r.Stderr, StringComparison.Ordinal);
            await AssertNothingLeftAsync("netjoiner", before);
        }
        finally
        {
            _ = await _daemon.DockerAsync(["rm", "-f", "netowner"]);
        }
    }

    private (string[] Processes, string[] State, string[] Cgroups) Snapshot() =>
        ([.. _daemon.SandboxProcesses()], [.. _daemon.RuntimeState()], [.. DockerDaemon.HostCgroupsLeft()]);

    private async Task AssertNothingLeftAsync(string name, (string[] Processes, string[] State, string[] Cgroups) before)
    {
        CommandResult ps = await _daemon.DockerAsync(["ps", "-a", "--filter", $"name={name}", "--format", "{{.ID}}"]);
        Assert.Equal("", ps.Stdout.Trim());
        // Bounded: the sandbox's processes may take a moment to be reaped after docker returned.
        for (int i = 0; i < 40 && _daemon.SandboxProcesses().Except(before.Processes).Any(); i++)
        {
            await Task.Delay(250);
        }
        Assert.Empty(_daemon.SandboxProcesses().Except(before.Processes));
        Assert.Empty(_daemon.RuntimeState().Except(before.State));
        Assert.Empty(DockerDaemon.HostCgroupsLeft().Except(before.Cgroups));
    }
}
