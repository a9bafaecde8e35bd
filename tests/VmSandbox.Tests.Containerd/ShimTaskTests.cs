using VmSandbox.TestSupport;
using VmSandbox.TestSupport.Containerd;
using Xunit;

namespace VmSandbox.Tests.Containerd;

/// <summary>
/// containerd's task API driven by ctr 1.6, once per shim (<see cref="ShimRuntime"/>): what a
/// shim v2 has to do for `ctr run`, `ctr task exec|ps|pause|resume|metrics|kill|delete`, and when
/// its process dies. A VM-backed row boots a VM per container under TCG, so each test puts
/// several checks on one container.
/// </summary>
public sealed class ShimTaskTests
{
    /// <summary>Each test's bound: a hang fails that test instead of holding the suite.</summary>
    public const int TestTimeoutMs = 6 * 60 * 1000;

    /// <summary>One ctr call: a VM boot under TCG included.</summary>
    internal static readonly TimeSpan CtrTimeout = TimeSpan.FromMinutes(3);

    /// <summary>A state change (exit, cleanup after a dead shim) to show.</summary>
    internal static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(60);

    private readonly ContainerdDaemon _daemon;

    public ShimTaskTests(ContainerdFixture containerd)
    {
        _daemon = containerd.Daemon;
    }

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task Run_passes_stdin_stdout_stderr_and_the_exit_status(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("run", shim);
        try
        {
            await using ChildProcess ctr = _daemon.StartCtr(
                ["run", "--rm", .. RunFlags(shim), ContainerdDaemon.Image, id, "sh", "-c", "cat; echo hello; echo oops >&2; exit 7"]);
            // ctr 1.6 turns the end of its stdin into CloseIO only once Create has returned: an
            // EOF that comes earlier is dropped and cat would wait forever. The echo shows the
            // task runs, so the EOF that follows must reach cat.
            await ctr.WriteStdinAsync("data\n");
            await ctr.WaitForStdoutAsync("data\n", CtrTimeout);
            ctr.CloseStdin();
            CommandResult r = await ctr.WaitAsync(CtrTimeout);

            Assert.True(r.ExitCode == 7, r.ToString());
            Assert.Equal("data\nhello\n", r.Stdout);
            Assert.Contains("oops", r.Stderr, StringComparison.Ordinal);
            // --rm: ctr deleted the task and the container, and containerd the bundle.
            Assert.Null(await _daemon.TaskAsync(id));
            await AssertNoContainerAsync(id);
            Assert.False(Directory.Exists(_daemon.BundleOf(id)), $"bundle {_daemon.BundleOf(id)} is left");
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task Exec_ps_pause_resume_metrics_and_kill_on_a_running_task(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("life", shim);
        try
        {
            ContainerdDaemon.TaskRow task = await RunDetachedAsync(shim, id);

            CommandResult exec = await CtrAsync(["task", "exec", "--fifo-dir", _daemon.FifoDir, "--exec-id", "e1", id, "sh", "-c", "echo exec-out; exit 3"]);
            Assert.True(exec.ExitCode == 3, exec.ToString());
            Assert.Equal("exec-out\n", exec.Stdout);

            // `ctr task exec -t` panics without a terminal on its stdin ("provided file is not a
            // console"): script(1) runs it on a pty.
            IReadOnlyList<string> ttyExec = _daemon.CtrCommand(["task", "exec", "--tty", "--fifo-dir", _daemon.FifoDir, "--exec-id", "t1", id, "sh", "-c", "tty; exit 5"]);
            CommandResult tty = await ChildProcess.RunAsync("/usr/bin/script", ["--quiet", "--return", "--command", ShellQuote(ttyExec), "/dev/null"], CtrTimeout);
            Assert.True(tty.ExitCode == 5, tty.ToString());
            Assert.Contains("/dev/pts/", tty.Stdout, StringComparison.Ordinal);

            CommandResult ps = await CtrAsync(["task", "ps", id]);
            Assert.True(ps.ExitCode == 0, ps.ToString());
            Assert.True(PidsOf(ps).Contains(task.Pid), $"`ctr task ps` does not list the task's pid {task.Pid}: {ps}");

            // Pause and Resume return once done: the next State says so.
            CommandResult pause = await CtrAsync(["task", "pause", id]);
            Assert.True(pause.ExitCode == 0, pause.ToString());
            Assert.Equal("PAUSED", (await _daemon.TaskAsync(id))?.Status);
            CommandResult resume = await CtrAsync(["task", "resume", id]);
            Assert.True(resume.ExitCode == 0, resume.ToString());
            Assert.Equal("RUNNING", (await _daemon.TaskAsync(id))?.Status);

            // ctr prints cgroups v1 or v2 metrics as a table (memory.usage_in_bytes or
            // memory.usage, pids.current, …) and fails on any other Stats type.
            CommandResult metrics = await CtrAsync(["task", "metrics", id]);
            Assert.True(metrics.ExitCode == 0, metrics.ToString());
            string[] rows = metrics.Stdout.Split('\n');
            Assert.Contains(rows, r => r.StartsWith("METRIC", StringComparison.Ordinal));
            Assert.True(rows.Any(r => r.StartsWith("memory.", StringComparison.Ordinal)) && rows.Any(r => r.StartsWith("pids.", StringComparison.Ordinal)),
                $"no memory or pids rows: {metrics}");

            CommandResult kill = await CtrAsync(["task", "kill", "--signal", "SIGKILL", id]);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            await _daemon.WaitForStatusAsync(id, "STOPPED", StateTimeout);
            await DeleteKilledTaskAsync(id);
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task Kill_reaches_one_exec_or_every_process(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("kill", shim);
        try
        {
            ContainerdDaemon.TaskRow task = await RunDetachedAsync(shim, id);
            CommandResult bg = await CtrAsync(["task", "exec", "--detach", "--fifo-dir", _daemon.FifoDir, "--exec-id", "bg", id, "sleep", "100001"]);
            Assert.True(bg.ExitCode == 0, bg.ToString());
            List<int> pids = PidsOf(await CtrAsync(["task", "ps", id]));
            Assert.True(pids.Count == 2 && pids.Contains(task.Pid), $"`ctr task ps` lists {string.Join(", ", pids)}, not the task {task.Pid} and one exec");

            // An exec's own kill: the exec ends, the task runs on.
            CommandResult killExec = await CtrAsync(["task", "kill", "--exec-id", "bg", "--signal", "SIGKILL", id]);
            Assert.True(killExec.ExitCode == 0, killExec.ToString());
            await WaitForPidsAsync(id, [task.Pid]);
            Assert.Equal("RUNNING", (await _daemon.TaskAsync(id))?.Status);
            // ctr exits with the status Delete reports for an exec.
            CommandResult deleteExec = await CtrAsync(["task", "delete", "--exec-id", "bg", id]);
            Assert.True(deleteExec.ExitCode == 137, deleteExec.ToString());

            CommandResult bg2 = await CtrAsync(["task", "exec", "--detach", "--fifo-dir", _daemon.FifoDir, "--exec-id", "bg2", id, "sleep", "100002"]);
            Assert.True(bg2.ExitCode == 0, bg2.ToString());
            CommandResult killAll = await CtrAsync(["task", "kill", "--all", "--signal", "SIGKILL", id]);
            Assert.True(killAll.ExitCode == 0, killAll.ToString());
            await _daemon.WaitForStatusAsync(id, "STOPPED", StateTimeout);
            await DeleteKilledTaskAsync(id);
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    /// <summary>
    /// A task over its memory limit is OOM-killed and containerd hears /tasks/oom before
    /// /tasks/exit (what CRI turns into the OOMKilled reason, Docker into OOMKilled: true). runc's
    /// shim learns it from the host cgroup; ours from the guest's (OomForwarder).
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task An_oom_kill_is_published_as_TaskOOM_before_the_exit(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("oom", shim);
        await using ChildProcess events = _daemon.StartCtr(["events"]);
        try
        {
            // `tail` keeps the line it reads, and /dev/zero has no newline: it grows until killed.
            CommandResult run = await CtrAsync(["run", "--rm", .. RunFlags(shim), "--memory-limit", (48L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
                ContainerdDaemon.Image, id, "tail", "/dev/zero"]);
            Assert.True(run.ExitCode == 137, run.ToString());
            // `ctr events` prints "TIME NAMESPACE TOPIC {EVENT}" per event.
            await events.WaitForStdoutAsync($"/tasks/delete", StateTimeout);
            List<string> mine = [.. events.Stdout.Split('\n').Where(l => l.Contains($"\"{id}\"", StringComparison.Ordinal))];
            int oom = mine.FindIndex(l => l.Contains(" /tasks/oom ", StringComparison.Ordinal));
            int exit = mine.FindIndex(l => l.Contains(" /tasks/exit ", StringComparison.Ordinal));
            Assert.True(oom >= 0 && exit > oom, $"expected /tasks/oom before /tasks/exit for {id}:\n{string.Join('\n', mine)}");
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    /// <summary>
    /// `ctr run --log-uri binary:///LOGGER?k=v`: containerd's pluggable logging. The shim starts
    /// the logger before the task with its stdout on fd 3, stderr on fd 4, and waits until it
    /// closes fd 5; the logger sees CONTAINER_ID, CONTAINER_NAMESPACE and its query arguments.
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task A_binary_logger_gets_the_tasks_stdout_and_stderr(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("blog", shim);
        string logger = Path.Combine(_daemon.Scratch, "logger.sh");
        File.WriteAllText(logger, """
            #!/bin/sh
            # $1 $2: "file" BASE
            echo "$CONTAINER_NAMESPACE/$CONTAINER_ID" > "$2.env"
            cat <&3 > "$2.out" 4<&- 5>&- &
            cat <&4 > "$2.err" 3<&- 5>&- &
            exec 3<&- 4<&- 5>&-
            wait
            """);
        File.SetUnixFileMode(logger, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string log = Path.Combine(_daemon.Scratch, id);
        try
        {
            CommandResult run = await CtrAsync(["run", "--rm", .. RunFlags(shim), "--log-uri", $"binary://{logger}?file={log}",
                ContainerdDaemon.Image, id, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"]);
            Assert.True(run.ExitCode == 3, run.ToString());
            // The logger's cats end on their own once the task's output closed: bounded wait.
            for (int i = 0; i < 100 && !(File.Exists(log + ".err") && File.ReadAllText(log + ".err").Length > 0); i++)
            {
                await Task.Delay(100);
            }
            Assert.Equal($"{ContainerdDaemon.Namespace}/{id}\n", File.ReadAllText(log + ".env"));
            Assert.Equal("to-stdout\n", File.ReadAllText(log + ".out"));
            Assert.Equal("to-stderr\n", File.ReadAllText(log + ".err"));
            // The shim ends its logger (SIGTERM) once the task's output is done.
            for (int i = 0; i < 150 && HostProcesses.All().Any(p => p.Argv.Contains(logger)); i++)
            {
                await Task.Delay(100);
            }
            Assert.DoesNotContain(HostProcesses.All(), p => p.Argv.Contains(logger));
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    /// <summary>
    /// containerd restarted while a task runs (an upgrade, `systemctl restart containerd`): the
    /// shim outlives it, the new containerd finds the task again from its bundle and the shim's
    /// address file, and the task is still the same process, exec-able, killable and deletable.
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task A_running_task_survives_a_containerd_restart(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("restart", shim);
        try
        {
            ContainerdDaemon.TaskRow task = await RunDetachedAsync(shim, id);
            await _daemon.RestartAsync();
            ContainerdDaemon.TaskRow? after = await _daemon.WaitForStatusAsync(id, "RUNNING", StateTimeout);
            Assert.Equal(task.Pid, after?.Pid);

            CommandResult exec = await CtrAsync(["task", "exec", "--fifo-dir", _daemon.FifoDir, "--exec-id", "e1", id, "sh", "-c", "echo after-restart; exit 4"]);
            Assert.True(exec.ExitCode == 4 && exec.Stdout == "after-restart\n", exec.ToString());

            CommandResult kill = await CtrAsync(["task", "kill", "--signal", "SIGKILL", id]);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            await _daemon.WaitForStatusAsync(id, "STOPPED", StateTimeout);
            await DeleteKilledTaskAsync(id);
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task A_killed_shim_is_cleaned_up_by_shim_delete(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = Shim(runtime);
        string id = NewId("shim", shim);
        HashSet<int> before = HostProcesses.SandboxProcesses().Select(p => p.Pid).ToHashSet();
        try
        {
            ContainerdDaemon.TaskRow task = await RunDetachedAsync(shim, id);
            List<HostProcesses.Proc> shims = shim.ShimProcesses(id, _daemon.BundleOf(id));
            Assert.True(shims.Count > 0, $"no {shim.ShimFile} process with -id {id} or in its bundle; processes naming it: {Describe(HostProcesses.Mentioning(id))}");
            foreach (HostProcesses.Proc p in shims)
            {
                _ = HostProcesses.Kill(p.Pid, HostProcesses.SIGKILL);
            }

            // containerd sees the ttrpc connection close, runs `SHIM … -bundle B delete` (killed
            // after 10 s in 1.6) and drops the task: 1.6 then lists no task at all.
            await _daemon.WaitForTaskAsync(id, r => r is null || r.Status == "STOPPED", "stopped or gone", StateTimeout);
            await WaitForNothingLeftAsync(shim, id, task.Pid, before);
            CommandResult rm = await CtrAsync(["containers", "rm", id]);
            Assert.True(rm.ExitCode == 0, rm.ToString());
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    /// <summary>The row's shim; fails the test when it (or, for ours, the guest image) is not built.</summary>
    internal static ShimRuntime Shim(string runtime)
    {
        ShimRuntime shim = ShimRuntime.Named(runtime);
        shim.Require();
        return shim;
    }

    /// <summary>A fresh container id, short (it is part of the bundle path, where a shim may put sockets).</summary>
    internal static string NewId(string test, ShimRuntime shim) => $"{test}-{(shim.IsVmSandbox ? "vm" : "rc")}-{Guid.NewGuid().ToString("N")[..6]}";

    private string[] RunFlags(ShimRuntime shim) => ["--runtime", shim.RuntimeArgument, "--fifo-dir", _daemon.FifoDir];

    private Task<CommandResult> CtrAsync(IEnumerable<string> args) => _daemon.CtrAsync(args, CtrTimeout);

    /// <summary>`ctr run -d` of a task that sleeps; returns its row once it runs.</summary>
    private async Task<ContainerdDaemon.TaskRow> RunDetachedAsync(ShimRuntime shim, string id)
    {
        CommandResult run = await CtrAsync(["run", "--detach", .. RunFlags(shim), ContainerdDaemon.Image, id, "sleep", "100000"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        return (await _daemon.WaitForStatusAsync(id, "RUNNING", StateTimeout))!;
    }

    /// <summary>`ctr task delete` of a task SIGKILL ended: it reports 137 and the task goes, then the container.</summary>
    private async Task DeleteKilledTaskAsync(string id)
    {
        CommandResult delete = await CtrAsync(["task", "delete", id]);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        // ctr warns "task ID exit with non-zero exit code 137": Delete's exit status.
        Assert.Contains("137", delete.Stderr, StringComparison.Ordinal);
        Assert.Null(await _daemon.TaskAsync(id));
        CommandResult rm = await CtrAsync(["containers", "rm", id]);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        await AssertNoContainerAsync(id);
    }

    private async Task AssertNoContainerAsync(string id)
    {
        CommandResult ls = await CtrAsync(["containers", "ls", "--quiet"]);
        Assert.DoesNotContain(id, ls.Stdout.Split('\n'));
    }

    /// <summary>The PID column of `ctr task ps`.</summary>
    private static List<int> PidsOf(CommandResult ps) =>
        ps.Stdout.Split('\n').Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault())
            .Where(f => f is not null && f.All(char.IsAsciiDigit))
            .Select(f => int.Parse(f!, System.Globalization.CultureInfo.InvariantCulture)).ToList();

    private async Task WaitForPidsAsync(string id, int[] expected)
    {
        DateTime deadline = DateTime.UtcNow + StateTimeout;
        while (true)
        {
            CommandResult ps = await CtrAsync(["task", "ps", id]);
            if (ps.ExitCode == 0 && PidsOf(ps).Order().SequenceEqual(expected.Order()))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"`ctr task ps` did not come to {string.Join(", ", expected)}: {ps}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// After a dead shim's cleanup: no process naming the container, the task's process gone
    /// (runc: a host PID), no QEMU, virtiofsd or vmsandbox process that was not there before, no
    /// mount under the bundle, no bundle, and for ours no state directory.
    /// </summary>
    private async Task WaitForNothingLeftAsync(ShimRuntime shim, string id, int taskPid, HashSet<int> before)
    {
        string bundle = _daemon.BundleOf(id);
        string[] stateDirs = [Path.Combine(ShimRuntime.VmSandboxStateRoot, id), Path.Combine(ShimRuntime.VmSandboxStateRoot, ContainerdDaemon.Namespace, id)];
        DateTime deadline = DateTime.UtcNow + StateTimeout;
        while (true)
        {
            var left = new List<string>();
            left.AddRange(HostProcesses.Mentioning(id).Select(p => $"process {p.Pid}: {p.CommandLine}"));
            if (!shim.IsVmSandbox && HostProcesses.IsAlive(taskPid))
            {
                left.Add($"the task's process {taskPid}");
            }
            if (shim.IsVmSandbox)
            {
                left.AddRange(HostProcesses.SandboxProcesses().Where(p => !before.Contains(p.Pid)).Select(p => $"process {p.Pid}: {p.CommandLine}"));
                left.AddRange(stateDirs.Where(Directory.Exists).Select(d => $"state directory {d}"));
            }
            left.AddRange(HostProcesses.MountsUnder(bundle).Select(m => $"mount {m}"));
            if (Directory.Exists(bundle))
            {
                left.Add($"bundle {bundle}");
            }
            if (left.Count == 0)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"left {StateTimeout.TotalSeconds:0} s after the shim was killed: {string.Join("; ", left)}");
            }
            await Task.Delay(500);
        }
    }

    private static string Describe(List<HostProcesses.Proc> procs) =>
        procs.Count == 0 ? "none" : string.Join("; ", procs.Select(p => $"{p.Pid}: {p.CommandLine}"));

    /// <summary>One sh word per argument, for script(1)'s --command.</summary>
    private static string ShellQuote(IEnumerable<string> args) => string.Join(' ', args.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
}
