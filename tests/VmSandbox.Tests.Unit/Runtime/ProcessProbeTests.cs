using System.Diagnostics;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class ProcessProbeTests
{
    [Fact]
    public void Stat_with_spaces_and_parentheses_in_comm_parses()
    {
        string stat = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        Assert.Equal(new ProcStat('S', 17, 987654), ProcessProbe.Parse(stat));
    }

    [Theory]
    [InlineData("")]
    [InlineData("12 (x) S")]
    [InlineData("12 (x) S notanumber 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 1 0 5")]
    [InlineData("12 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 1 0 -5")]
    public void Malformed_stat_gives_null(string stat) => Assert.Null(ProcessProbe.Parse(stat));

    [Fact]
    public void Descendants_are_the_whole_tree_below_a_process_and_nothing_else()
    {
        using var sh = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "sleep 30 & (sleep 30 & wait) & wait"]) { RedirectStandardInput = true })!;
        try
        {
            // sh, its two children (sleep, subshell) and the subshell's sleep.
            List<int> tree = [];
            for (int i = 0; i < 100 && tree.Count < 4; i++)
            {
                Thread.Sleep(50);
                tree = ProcessProbe.SelfAndDescendants(sh.Id);
            }
            Assert.Equal(4, tree.Count);
            Assert.Contains(sh.Id, tree);
            Assert.Equal(tree.Order(), tree);
            Assert.DoesNotContain(Environment.ProcessId, tree);
            Assert.DoesNotContain(1, tree);
        }
        finally
        {
            sh.Kill(entireProcessTree: true);
            sh.WaitForExit();
        }
        Assert.Empty(ProcessProbe.SelfAndDescendants(sh.Id));
    }
}
