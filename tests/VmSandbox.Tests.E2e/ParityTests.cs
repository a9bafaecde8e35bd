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

    public static TheoryData<string> RowNames => new(ParityTable.Rows.Select(r => r.Name));

    [Theory]
    [MemberData(nameof(RowNames))]
    public async Task Docker_behaves_as_with_runc(string row)
    {
        ParityRow r = ParityTable.Rows.Single(x => x.Name == row);
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

    [Fact]
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
