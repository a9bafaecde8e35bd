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
        // The CLI's output pipes close when the helpers that inherited them are gone, and the
        // readers let go of them a moment later (on a loaded host, seconds): a leak stays, a
        // straggler does not. Other test collections run meanwhile and open their own.
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (OpenFds() > fdsBefore + 16 && DateTime.UtcNow < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
        int fds = OpenFds();
        Assert.True(fds <= fdsBefore + 16, $"{fds} open descriptors, {fdsBefore} before: {DescribeFds()}");
    }

    /// <summary>What the open descriptors are, by target, most frequent first (for a failure's message).</summary>
    private static string DescribeFds() => string.Join(", ", Directory.GetFileSystemEntries("/proc/self/fd")
        .Select(f =>
        {
            try
            {
                string? target = File.ResolveLinkTarget(f, returnFinalTarget: false)?.ToString();
                return target is null ? "?" : System.Text.RegularExpressions.Regex.Replace(target, @"\[\d+\]|/\d+$", "[n]");
            }
            catch (IOException)
            {
                return "gone";
            }
        })
        .GroupBy(t => t).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()}× {g.Key}"));
}
