using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Each row of <see cref="ParityTable"/> under runc and under vmsandbox on the same dockerd:
/// both must match what runc gives on this machine.
/// </summary>
public sealed class ParityTests
{
    private readonly DockerDaemon _daemon;

    public ParityTests(DockerDaemon daemon)
    {
        _daemon = daemon;
    }

    private static IEnumerable<ParityRow> AllRows => ParityTable.Rows.Concat(NetworkParityTable.Rows);

    public static TheoryData<string> RowNames => new(AllRows.Select(r => r.Name));

    [Theory(Timeout = DockerDaemon.TestTimeoutMs)]
    [MemberData(nameof(RowNames))]
    public async Task Docker_behaves_as_with_runc(string row)
    {
        ParityRow r = AllRows.Single(x => x.Name == row);
        string runc;
        await using (var session = new DockerSession(_daemon, "runc"))
        {
            runc = await r.Observe(session);
        }
        string vmsandbox;
        await using (var session = new DockerSession(_daemon, DockerDaemon.Runtime))
        {
            vmsandbox = await r.Observe(session);
        }
        Assert.Equal(r.Expect, runc);
        Assert.Equal(runc, vmsandbox);
    }

    public static TheoryData<string> NetworkRowNames => new(NetworkParityTable.Rows.Select(r => r.Name));

    /// <summary>
    /// The network rows again through a warm pool of one VM (ADR 0018): the container's network
    /// namespace is the pooled VM's, wired by Docker after the claim. Each row starts with a
    /// ready pooled VM and takes it.
    /// </summary>
    [Theory(Timeout = DockerDaemon.TestTimeoutMs)]
    [MemberData(nameof(NetworkRowNames))]
    public async Task Docker_behaves_as_with_runc_in_a_pooled_vm(string row)
    {
        ParityRow r = NetworkParityTable.Rows.Single(x => x.Name == row);
        CommandResult fill = await _daemon.PoolAsync("fill", "--wait", "180");
        Assert.True(fill.ExitCode == 0, $"pool fill: {fill.Stdout} {fill.Stderr}");
        int ClaimsSoFar()
        {
            string log = Path.Combine(_daemon.PoolDir, "pool.log");
            return File.Exists(log) ? File.ReadAllLines(log).Count(l => l.Contains(": claimed by container ", StringComparison.Ordinal)) : 0;
        }
        int before = ClaimsSoFar();
        string pooled;
        await using (var session = new DockerSession(_daemon, DockerDaemon.PoolRuntime))
        {
            pooled = await r.Observe(session);
        }
        Assert.Equal(r.Expect, pooled);
        Assert.True(ClaimsSoFar() > before, "no container of the row took the pooled vm");
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Docker_top_lists_the_sandbox_on_the_host()
    {
        await using var session = new DockerSession(_daemon, DockerDaemon.Runtime);
        string id = await session.Detached("sleep", "1000");
        CommandResult top = await session.Docker("top", id, "-o", "pid,comm");
        Assert.True(top.ExitCode == 0, top.Stderr);
        string[][] rows = [.. top.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))];
        // The sandbox monitor (the PID Docker has for the container), and QEMU below it; never
        // an unrelated host process such as PID 1, which guest PIDs would have matched.
        string monitor = await session.Inspect(id, "{{.State.Pid}}");
        Assert.Contains(rows, r => r[0] == monitor);
        Assert.Contains(rows, r => r[1].StartsWith("qemu-system", StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r[0] == "1");
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Uname_shows_the_guest_kernel_not_the_hosts()
    {
        await using var session = new DockerSession(_daemon, DockerDaemon.Runtime);
        CommandResult r = await session.Run("uname", "-r");
        Assert.Equal(0, r.ExitCode);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), r.Stdout.Trim());
        string manifest = File.ReadAllText(Path.Combine(DockerDaemon.RepoRoot, "out", "share", "vmsandbox", "guest", "manifest.json"));
        Assert.Contains(r.Stdout.Trim(), manifest, StringComparison.Ordinal);
    }
}
