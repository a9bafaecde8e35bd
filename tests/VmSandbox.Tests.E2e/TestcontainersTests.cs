using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using DotNet.Testcontainers.Images;
using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Testcontainers for .NET driving the private dockerd, with vmsandbox set as the runtime on the
/// container's create parameters: what a CI system that isolates untrusted builds would do.
/// </summary>
public sealed class TestcontainersTests
{
    private readonly DockerDaemon _daemon;

    public TestcontainersTests(DockerDaemon daemon)
    {
        _daemon = daemon;
        // The resource reaper is an image from a registry, which this machine cannot reach; the
        // daemon fixture removes every container itself.
        TestcontainersSettings.ResourceReaperEnabled = false;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ContainerBuilder Builder(params string[] command) => new ContainerBuilder(DockerDaemon.Image)
        .WithDockerEndpoint(_daemon.Endpoint)
        .WithImagePullPolicy(PullPolicy.Missing)
        .WithCreateParameterModifier(p => p.HostConfig!.Runtime = DockerDaemon.Runtime)
        .WithCommand(command);

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_container_runs_in_a_vm_and_answers_exec()
    {
        await using IContainer container = Builder("sh", "-c", "echo ready; exec sleep 1000")
            .WithEnvironment("GREETING", "from-testcontainers")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("ready"))
            .Build();
        await container.StartAsync(Ct);

        ExecResult kernel = await container.ExecAsync(["uname", "-r"], Ct);
        Assert.Equal(0, kernel.ExitCode);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), kernel.Stdout.Trim());

        ExecResult env = await container.ExecAsync(["sh", "-c", "echo $GREETING; exit 4"], Ct);
        Assert.Equal(4, env.ExitCode);
        Assert.Equal("from-testcontainers\n", env.Stdout);

        await container.StopAsync(Ct);
        Assert.Equal(137, await container.GetExitCodeAsync(Ct));
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Files_copied_in_are_seen_and_the_exit_code_comes_back()
    {
        await using IContainer container = Builder("sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.2; done; cat /tmp/go; exit 9")
            .Build();
        await container.StartAsync(Ct);
        await container.CopyAsync("finished"u8.ToArray(), "/tmp/go", ct: Ct);
        long code = await container.GetExitCodeAsync(Ct);
        Assert.Equal(9, code);
        var (stdout, _) = await container.GetLogsAsync(timestampsEnabled: false, ct: Ct);
        Assert.EndsWith("finished", stdout.Trim(), StringComparison.Ordinal);
    }
}
