using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>A hung guest (QEMU stopped: nothing in the guest answers) and a full state directory.</summary>
public sealed partial class FaultTests
{
    /// <summary>Seconds `kill` and `delete --force` of a hung guest may take: the agent gets 5 s to answer SIGKILL, 10 s to connect for other signals.</summary>
    private const double HungBoundSeconds = 20;

    [Fact]
    public async Task Kill_of_a_hung_guest_finishes_in_bounded_time_and_ends_the_container()
    {
        var o = new FaultOutcome("hung guest: kill", "SIGSTOP to qemu (the agent stops answering), then `kill ID TERM` and `kill ID KILL`",
            $"kill TERM fails in one line and kill KILL succeeds, each within {HungBoundSeconds:F0} s; state says stopped, the log names the kill; delete leaves nothing");
        string root = fx.NewRoot();
        string id = "hungkill-" + Guid.NewGuid().ToString("N")[..6];
        var created = await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle("sleep", "600"), id);
        Assert.True(created.ExitCode == 0, created.Stderr);
        int qemu = 0;
        try
        {
            qemu = ChildOf(MonitorPid(root, id), "qemu-system-x86");
            Assert.True(qemu > 0, "no qemu");
            Signal(qemu, "STOP");
            var clock = Stopwatch.StartNew();
            var term = await fx.Cli(root, "kill", id, "TERM");
            double termSeconds = clock.Elapsed.TotalSeconds;
            o.Check(term.ExitCode != 0 && termSeconds < HungBoundSeconds && term.Stderr.Trim().Split('\n').Length == 1,
                $"kill TERM: exit {term.ExitCode} after {termSeconds:F1} s: \"{term.Stderr.Trim()}\"");
            clock.Restart();
            var kill = await fx.Cli(root, "kill", id, "KILL");
            double killSeconds = clock.Elapsed.TotalSeconds;
            o.Check(kill.ExitCode == 0 && killSeconds < HungBoundSeconds, $"kill KILL: exit {kill.ExitCode} after {killSeconds:F1} s{(kill.ExitCode == 0 ? "" : ": " + kill.Stderr.Trim())}");
            await CheckStoppedWithReason(o, root, id, LostLine, "killed with its vm on request");
        }
        finally
        {
            if (qemu > 0 && Directory.Exists($"/proc/{qemu}"))
            {
                Signal(qemu, "CONT");
            }
            CheckDeleteLeavesNothing(o, root, id, await fx.Cli(root, "delete", "--force", id));
        }
        o.RecordAndAssert();
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    public async Task Delete_force_of_a_hung_guest_finishes_in_bounded_time_and_leaves_nothing()
    {
        var o = new FaultOutcome("hung guest: delete --force", "SIGSTOP to qemu (the agent stops answering), then `delete --force ID`",
            $"delete --force succeeds within {HungBoundSeconds:F0} s and leaves nothing");
        string root = fx.NewRoot();
        string id = "hungdel-" + Guid.NewGuid().ToString("N")[..6];
        var created = await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle("sleep", "600"), id);
        Assert.True(created.ExitCode == 0, created.Stderr);
        int qemu = ChildOf(MonitorPid(root, id), "qemu-system-x86");
        Assert.True(qemu > 0, "no qemu");
        Signal(qemu, "STOP");
        var clock = Stopwatch.StartNew();
        var delete = await fx.Cli(root, "delete", "--force", id);
        double seconds = clock.Elapsed.TotalSeconds;
        o.Check(seconds < HungBoundSeconds, $"delete --force took {seconds:F1} s");
        if (delete.ExitCode != 0)
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        CheckDeleteLeavesNothing(o, root, id, delete);
        o.RecordAndAssert();
        fx.AssertNothingLeft(root, id);
    }

    /// <summary>
    /// The state directory (--root) on a full file system: create and run fail with one error line
    /// and leave nothing; a running container whose state directory fills up still ends with its
    /// status (the monitor can no longer write its exit file or log: that must not change it).
    /// </summary>
    [Fact]
    public async Task A_full_state_directory_fails_create_cleanly_and_a_running_container_still_ends()
    {
        var o = new FaultOutcome("state directory full", "--root on a 512 KiB tmpfs filled to the last byte: create, run; then a running container whose --root fills up is killed",
            "create and run fail with one error line naming the full disk, exit non-zero, leave nothing; the running container ends with status 137 and delete leaves nothing");
        string dir = Directory.CreateTempSubdirectory("vmsb-full-").FullName;
        Assert.Equal(0, (await TestEnvironment.RunAsync("/bin/mount", new Dictionary<string, string>(), TimeSpan.FromSeconds(30), "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir)).ExitCode);
        try
        {
            string root = Path.Combine(dir, "root");
            Directory.CreateDirectory(root);
            string fill = Path.Combine(dir, "fill");
            Fill(fill);
            string bundle = fx.Bundle("sleep", "600");
            foreach (string verb in (string[])["create", "run"])
            {
                string id = "full" + verb;
                var r = await fx.Cli(root, verb, "--bundle", bundle, id);
                string[] lines = r.Stderr.Trim().Split('\n');
                o.Check(r.ExitCode != 0 && lines.Length == 1 && r.Stderr.Contains("space left on device", StringComparison.OrdinalIgnoreCase),
                    $"{verb}: exit {r.ExitCode}: \"{r.Stderr.Trim()}\"");
                List<string> left = Leftovers(root, id);
                o.Check(left.Count == 0, left.Count == 0 ? $"{verb} left nothing" : $"{verb} left: {string.Join(", ", left)}");
            }

            File.Delete(fill);
            const string running = "fullrun";
            using Process run = await StartRunAsync(root, running, bundle);
            try
            {
                Fill(fill);
                var kill = await fx.Cli(root, "kill", running, "KILL");
                o.Check(kill.ExitCode == 0, $"kill with the state directory full: exit {kill.ExitCode} {kill.Stderr.Trim()}");
                int? code = await WaitExitAsync(run, TimeSpan.FromSeconds(60));
                o.Check(code == 137, $"the running container ended with status {code?.ToString(CultureInfo.InvariantCulture) ?? "(none within 60 s)"}");
                o.Check(await StatusOf(root, running) == "stopped", "state says stopped");
            }
            finally
            {
                await EndRun(run, root, running);
            }
            CheckDeleteLeavesNothing(o, root, running, await fx.Cli(root, "delete", "--force", running));
        }
        finally
        {
            await TestEnvironment.RunAsync("/bin/umount", new Dictionary<string, string>(), TimeSpan.FromSeconds(30), dir);
            Directory.Delete(dir, recursive: true);
        }
        o.RecordAndAssert();
    }

    /// <summary>Writes <paramref name="path"/> until the file system is full (bounded: the tmpfs is small).</summary>
    private static void Fill(string path)
    {
        byte[] block = new byte[4096];
        using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None, 1);
        try
        {
            for (int i = 0; i < 4096; i++)
            {
                f.Write(block);
                f.Flush();
            }
        }
        catch (IOException)
        {
            // full
        }
    }

    private static void Signal(int pid, string signal)
    {
        using var p = Process.Start("/bin/kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]);
        p.WaitForExit();
    }
}
