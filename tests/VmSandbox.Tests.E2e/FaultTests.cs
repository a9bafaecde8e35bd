using System.Diagnostics;
using System.Globalization;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Faults seen through Docker (issue 15): a hung guest stopped and removed within Docker's
/// timeouts, and dockerd restarted under a running container with live-restore off (the
/// container is stopped and removable) and on (it survives and stays usable). Each case records a
/// row ("Faults") and checks that nothing is left: no container, sandbox process, runtime state
/// or host cgroup.
/// </summary>
[Trait("Category", "Reliability")]
public sealed class FaultTests(DockerDaemon daemon)
{
    /// <summary>docker stop -t 2 of a hung guest: TERM is not answered (10 s), 2 s grace, then KILL (5 s, then the VM goes).</summary>
    private const double StopBoundSeconds = 40;

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Docker_stop_and_rm_f_of_a_hung_guest_finish_within_dockers_timeouts()
    {
        var facts = new List<string>();
        bool ok = true;
        void Check(bool holds, string fact)
        {
            ok &= holds;
            facts.Add(holds ? fact : "NOT " + fact);
        }
        var before = await Snapshot();
        await using (var session = new DockerSession(daemon, DockerDaemon.Runtime))
        {
            string stopped = await session.Detached("sleep", "600");
            StopQemu(await session.Inspect(stopped, "{{.State.Pid}}"));
            var clock = Stopwatch.StartNew();
            CommandResult stop = await session.Docker("stop", "-t", "2", stopped);
            double stopSeconds = clock.Elapsed.TotalSeconds;
            Check(stop.ExitCode == 0 && stopSeconds < StopBoundSeconds, $"docker stop -t 2: exit {stop.ExitCode} after {stopSeconds:F1} s{(stop.ExitCode == 0 ? "" : ": " + stop.Stderr.Trim())}");
            string state = await session.Inspect(stopped, "{{.State.Status}} {{.State.ExitCode}}");
            Check(state == "exited 137", $"docker shows '{state}'");
            CommandResult rm = await session.Docker("rm", stopped);
            Check(rm.ExitCode == 0, $"docker rm: exit {rm.ExitCode}");

            string removed = await session.Detached("sleep", "600");
            StopQemu(await session.Inspect(removed, "{{.State.Pid}}"));
            clock.Restart();
            CommandResult rmf = await session.Docker("rm", "-f", removed);
            double rmSeconds = clock.Elapsed.TotalSeconds;
            Check(rmf.ExitCode == 0 && rmSeconds < StopBoundSeconds, $"docker rm -f: exit {rmf.ExitCode} after {rmSeconds:F1} s{(rmf.ExitCode == 0 ? "" : ": " + rmf.Stderr.Trim())}");
        }
        string left = await LeftSince(before);
        Check(left.Length == 0, left.Length == 0 ? "nothing left" : "left: " + left);
        string observed = string.Join("; ", facts);
        Assert.True(ReliabilityLog.Record("Faults", "hung guest: docker stop, docker rm -f",
            "SIGSTOP to the qemu of a running container (docker run -d --runtime vmsandbox … sleep 600), then docker stop -t 2; again, then docker rm -f",
            $"both finish within {StopBoundSeconds:F0} s; the stopped container shows exited 137; nothing left", observed, ok), observed);
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_dockerd_restart_without_live_restore_stops_the_container_and_leaves_nothing()
    {
        var facts = new List<string>();
        bool ok = true;
        void Check(bool holds, string fact)
        {
            ok &= holds;
            facts.Add(holds ? fact : "NOT " + fact);
        }
        var before = await Snapshot();
        await using (var session = new DockerSession(daemon, DockerDaemon.Runtime))
        {
            string id = await session.Detached("--stop-timeout", "2", "--", "sleep", "600");
            double stopSeconds = await daemon.RestartAsync();
            facts.Add($"dockerd stopped in {stopSeconds:F1} s and came back");
            string state = await session.Inspect(id, "{{.State.Status}}");
            Check(state == "exited", $"docker shows '{state}' after the restart");
            Check(daemon.SandboxProcesses().Except(before.Processes).ToList() is { Count: 0 }, "no sandbox process runs");
            CommandResult rm = await session.Docker("rm", id);
            Check(rm.ExitCode == 0, $"docker rm: exit {rm.ExitCode}{(rm.ExitCode == 0 ? "" : ": " + rm.Stderr.Trim())}");
        }
        string left = await LeftSince(before);
        Check(left.Length == 0, left.Length == 0 ? "nothing left" : "left: " + left);
        string observed = string.Join("; ", facts);
        Assert.True(ReliabilityLog.Record("Faults", "dockerd restarted, live-restore off",
            "dockerd stopped (SIGTERM) and started again while a vmsandbox container runs (--stop-timeout 2)",
            "dockerd stops the container; after the restart it shows exited, no sandbox process runs, docker rm leaves nothing", observed, ok), observed);
    }

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task A_dockerd_restart_with_live_restore_keeps_the_container_usable()
    {
        var facts = new List<string>();
        bool ok = true;
        void Check(bool holds, string fact)
        {
            ok &= holds;
            facts.Add(holds ? fact : "NOT " + fact);
        }
        var before = await Snapshot();
        await daemon.SetLiveRestoreAsync(true);
        try
        {
            await using var session = new DockerSession(daemon, DockerDaemon.Runtime);
            string id = await session.Detached("--stop-timeout", "2", "--", "sh", "-c", "echo up > /tmp/mark; sleep 600");
            string monitor = await session.Inspect(id, "{{.State.Pid}}");
            double stopSeconds = await daemon.RestartAsync();
            facts.Add($"dockerd stopped in {stopSeconds:F1} s and came back");
            string state = await session.Inspect(id, "{{.State.Status}} {{.State.Pid}}");
            Check(state == $"running {monitor}", $"docker shows '{state}' (before: running {monitor})");
            CommandResult exec = await session.Docker("exec", id, "cat", "/tmp/mark");
            Check(exec.ExitCode == 0 && exec.Stdout == "up\n", $"docker exec after the restart: exit {exec.ExitCode}, '{exec.Stdout.Trim()}'");
            var clock = Stopwatch.StartNew();
            CommandResult stop = await session.Docker("stop", id);
            Check(stop.ExitCode == 0, $"docker stop after the restart: exit {stop.ExitCode} in {clock.Elapsed.TotalSeconds:F1} s");
            string after = await session.Inspect(id, "{{.State.Status}}");
            Check(after == "exited", $"docker shows '{after}'");
        }
        finally
        {
            await daemon.SetLiveRestoreAsync(false);
        }
        string left = await LeftSince(before);
        Check(left.Length == 0, left.Length == 0 ? "nothing left" : "left: " + left);
        string observed = string.Join("; ", facts);
        Assert.True(ReliabilityLog.Record("Faults", "dockerd restarted, live-restore on",
            "with live-restore on, dockerd stopped (SIGTERM) and started again while a vmsandbox container runs",
            "the container keeps running (same PID), docker exec and docker stop work after the restart, nothing left after rm", observed, ok), observed);
    }

    /// <summary>SIGSTOP to the QEMU below the container's monitor (Docker's PID for it): nothing in the guest answers any more.</summary>
    private static void StopQemu(string monitorPid)
    {
        int monitor = int.Parse(monitorPid, CultureInfo.InvariantCulture);
        int qemu = Directory.GetDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out int p) ? p : 0)
            .FirstOrDefault(p =>
            {
                try
                {
                    string stat = File.ReadAllText($"/proc/{p}/stat");
                    return stat.Contains("(qemu-system-x86)", StringComparison.Ordinal)
                        && stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1] == monitor.ToString(CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                    return false;
                }
            });
        Assert.True(qemu > 0, $"no qemu below monitor {monitor}");
        using var kill = Process.Start("/bin/kill", ["-STOP", qemu.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private async Task<(string[] Processes, string[] State, string[] Cgroups, string[] Containers)> Snapshot() =>
        ([.. daemon.SandboxProcesses()], [.. daemon.RuntimeState()], [.. DockerDaemon.HostCgroupsLeft()], await Containers());

    private async Task<string[]> Containers() =>
        [.. (await daemon.DockerAsync(["ps", "-aq"])).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(c => "container " + c)];

    /// <summary>What appeared since <paramref name="before"/> and is still there (bounded wait for reaping), as one line; empty when nothing.</summary>
    private async Task<string> LeftSince((string[] Processes, string[] State, string[] Cgroups, string[] Containers) before)
    {
        List<string> left = [];
        for (int i = 0; i < 40; i++)
        {
            left = [.. daemon.SandboxProcesses().Except(before.Processes), .. daemon.RuntimeState().Except(before.State),
                .. DockerDaemon.HostCgroupsLeft().Except(before.Cgroups), .. (await Containers()).Except(before.Containers)];
            if (left.Count == 0)
            {
                break;
            }
            await Task.Delay(250);
        }
        return string.Join(", ", left);
    }
}
