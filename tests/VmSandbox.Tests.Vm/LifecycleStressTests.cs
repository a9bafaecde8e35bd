using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>Many sandboxes: in parallel, then create/start/delete cycles; nothing may leak.</summary>
[Collection(LifecycleCollection.Name)]
public sealed class LifecycleStressTests(BundleFixture fx)
{
    private static int OpenFds() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    /// <summary>Monitors, QEMUs and virtiofsds of this fixture: their command lines name its state root.</summary>
    private int HelperProcesses() => TestEnvironment.ProcessesMatching(fx.StateRoot).Count;

    [Fact]
    public async Task Ten_parallel_containers_then_fifty_sequential_cycles_leak_nothing()
    {
        string root = fx.NewRoot();
        string bundle = fx.Bundle("sh", "-c", "echo $(hostname) > /dev/null; exit 7");
        string mountsBefore = File.ReadAllText("/proc/self/mountinfo");
        int fdsBefore = OpenFds();

        var parallel = Enumerable.Range(0, 10).Select(i => fx.Cli(root, "run", "--bundle", bundle, $"par{i}")).ToArray();
        foreach (TestEnvironment.CliResult r in await Task.WhenAll(parallel))
        {
            Assert.True(r.ExitCode == 7, $"exit {r.ExitCode}: {r.Stderr}");
        }

        string sleeper = fx.Bundle("sleep", "1000");
        for (int i = 0; i < 50; i++)
        {
            string id = $"seq{i}";
            var created = await fx.Cli(root, "create", "--bundle", sleeper, id);
            Assert.True(created.ExitCode == 0, $"cycle {i}: {created.Stderr}");
            Assert.Equal(0, (await fx.Cli(root, "start", id)).ExitCode);
            var deleted = await fx.Cli(root, "delete", "--force", id);
            Assert.True(deleted.ExitCode == 0, $"cycle {i}: {deleted.Stderr}");
        }

        Assert.Empty(Directory.GetFileSystemEntries(root));
        fx.AssertNothingLeft(root, "seq49");
        Assert.Equal(0, HelperProcesses());
        Assert.Equal(mountsBefore, File.ReadAllText("/proc/self/mountinfo"));
        Assert.InRange(OpenFds(), 0, fdsBefore + 16);
    }
}
