using System.Diagnostics;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// A CLI call's helpers (monitor, exec relay) are left for the subreaper above us (conmon,
/// containerd-shim-runc-v2) to reap: one that exits while we still run keeps its status for it.
/// </summary>
[Collection(nameof(ChildReapingCollection))]
public sealed class UnreapedHelperTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(20);

    /// <summary>/bin/sh -c SCRIPT sh VERB ID: the helper's usual arguments land in $0 and $1.</summary>
    private static UnreapedHelper StartShell(string script, string? ttyPath = null) =>
        UnreapedHelper.Start("/bin/sh", ["-c", script, "sh"], ["verb"], "id", ttyPath);

    [Fact]
    public async Task A_helper_that_exits_first_stays_a_zombie_with_its_status_for_the_reaper_above()
    {
        using UnreapedHelper helper = StartShell("exit 3");
        try
        {
            await helper.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(s_bound, TestContext.Current.CancellationToken);
            Assert.True(helper.HasExited);
            Assert.Equal(3, helper.ExitCode);
            // .NET reaps the children it started with Process on SIGCHLD: another child's exit
            // runs that, and must leave ours alone.
            using (Process other = Process.Start("/bin/true")!)
            {
                await other.WaitForExitAsync(TestContext.Current.CancellationToken);
            }
            await Task.Delay(200, TestContext.Current.CancellationToken);
            Assert.Equal('Z', ProcessProbe.Read(helper.Pid)?.State);
            Assert.Equal(3, helper.ExitCode); // read again: still there for the reaper
        }
        finally
        {
            helper.Abandon(s_bound);
        }
        Assert.Null(ProcessProbe.Read(helper.Pid));
    }

    [Fact]
    public async Task A_helper_reaped_here_keeps_its_exit_and_is_not_reaped_twice()
    {
        // A helper that reported a failure: Launch abandons (reaps) it, then create's clean-up abandons it again.
        using UnreapedHelper helper = StartShell("exit 4");
        await helper.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(s_bound, TestContext.Current.CancellationToken);
        helper.Abandon(s_bound);
        Assert.Null(ProcessProbe.Read(helper.Pid));
        Assert.True(helper.HasExited);
        Assert.Equal(4, helper.ExitCode);
        helper.Abandon(s_bound);
        await helper.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(s_bound, TestContext.Current.CancellationToken);
        Assert.Equal(4, helper.ExitCode);
    }

    [Fact]
    public async Task A_helper_killed_by_a_signal_exits_with_128_plus_the_signal()
    {
        using UnreapedHelper helper = StartShell("kill -9 $$");
        try
        {
            await helper.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(s_bound, TestContext.Current.CancellationToken);
            Assert.Equal(137, helper.ExitCode);
        }
        finally
        {
            helper.Abandon(s_bound);
        }
    }

    [Fact]
    public async Task With_a_tty_the_helper_holds_none_of_our_stdio_and_gets_its_arguments()
    {
        string dir = Directory.CreateTempSubdirectory("vmsb-unreaped-").FullName;
        try
        {
            string outFile = Path.Combine(dir, "out");
            using UnreapedHelper helper = StartShell($"{{ readlink /proc/self/fd/0 /proc/self/fd/2; echo \"$0 $*\"; }} > {outFile}", ttyPath: "/dev/pts/none");
            try
            {
                await helper.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(s_bound, TestContext.Current.CancellationToken);
                Assert.Equal(0, helper.ExitCode);
            }
            finally
            {
                helper.Abandon(s_bound);
            }
            Assert.Equal(["/dev/null", "/dev/null", "sh verb --tty /dev/pts/none id"], File.ReadAllLines(outFile));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Waiting_ends_when_cancelled_and_a_killed_helper_is_reaped()
    {
        using UnreapedHelper helper = StartShell("exec sleep 30");
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => helper.WaitForExitAsync(cts.Token).WaitAsync(s_bound, TestContext.Current.CancellationToken));
            Assert.False(helper.HasExited);
            Assert.NotEqual(0UL, helper.StartTime);
        }
        finally
        {
            helper.Abandon(s_bound);
        }
        Assert.Null(ProcessProbe.Read(helper.Pid));
    }

    [Fact]
    public void No_descriptor_of_ours_but_stdio_reaches_the_helper()
    {
        // An inheritable descriptor (no O_CLOEXEC) would keep a caller's pipe or socket open for the helper's life.
        using var leaked = new VmSandbox.Interop.SafeFd(VmSandbox.Interop.ProcessCalls.OpenReadWrite("/dev/null"));
        Assert.True(leaked.Fd > 2);
        using UnreapedHelper helper = StartShell("exec sleep 30");
        try
        {
            string[] fds = [];
            string comm() => File.ReadAllText($"/proc/{helper.Pid}/comm").Trim();
            for (int i = 0; i < 100 && comm() != "sleep"; i++)
            {
                Thread.Sleep(50);
            }
            Assert.Equal("sleep", comm());
            fds = Directory.GetFileSystemEntries($"/proc/{helper.Pid}/fd").Select(Path.GetFileName).Order().ToArray()!;
            Assert.Equal(["0", "1", "2"], fds);
        }
        finally
        {
            helper.Abandon(s_bound);
        }
    }

    [Fact]
    public void The_host_kills_a_process_only_while_it_is_the_one_recorded()
    {
        using Process sleeper = Process.Start("sleep", "30");
        try
        {
            ulong started = ProcessProbe.StartTime(sleeper.Id) ?? throw new InvalidOperationException("no start time");
            var host = new OsSandboxHost("/bin/false", [], reapsHelpers: true);
            host.Kill(sleeper.Id, started + 1); // another process that reused the PID
            Assert.False(sleeper.WaitForExit(300));
            host.Kill(sleeper.Id, started);
            Assert.True(sleeper.WaitForExit(10_000));
            host.Kill(sleeper.Id, started); // gone: nothing to do
        }
        finally
        {
            if (!sleeper.HasExited)
            {
                sleeper.Kill();
            }
        }
    }
}
