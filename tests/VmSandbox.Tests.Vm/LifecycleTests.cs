using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

[CollectionDefinition(Name)]
public sealed class LifecycleCollection : ICollectionFixture<BundleFixture>
{
    public const string Name = "cli lifecycle";
}

/// <summary>The runc CLI contract end to end: real bundles, each container in its own VM.</summary>
[Collection(LifecycleCollection.Name)]
public sealed class LifecycleTests(BundleFixture fx)
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private async Task<string> StatusOf(string root, string id)
    {
        var state = await fx.Cli(root, "state", id);
        Assert.True(state.ExitCode == 0, state.Stderr);
        return Json(state.Stdout).GetProperty("status").GetString()!;
    }

    private async Task WaitForStatus(string root, string id, string status)
    {
        for (int i = 0; i < 300 && await StatusOf(root, id) != status; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Equal(status, await StatusOf(root, id));
    }

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 1", 1)]
    [InlineData("exit 42", 42)]
    [InlineData("sleep 100 & kill -9 $!; wait $!", 137)]
    public async Task Run_passes_the_exit_status_through(string script, int expected)
    {
        string root = fx.NewRoot();
        string id = "exit" + expected;
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle("sh", "-c", script), id);
        Assert.True(expected == r.ExitCode, $"exit {r.ExitCode}, stderr: {r.Stderr}");
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    public async Task A_cwd_only_root_may_enter_still_works_for_another_user()
    {
        // runc enters the cwd before it changes user and drops capabilities (runc's cwd.bats):
        // /private is 0700 and root's; the process runs as 42 without capabilities.
        string root = fx.NewRoot();
        string dir = Directory.CreateDirectory(Path.Combine(fx.Rootfs, "private")).FullName;
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        System.Text.Json.Nodes.JsonObject process = ContainerSpecs.Process("sh", "-c", "id -u; pwd");
        process["cwd"] = "/private";
        process["user"] = new System.Text.Json.Nodes.JsonObject { ["uid"] = 42, ["gid"] = 42 };
        process["capabilities"] = ContainerSpecs.Caps([]);
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(ContainerSpecs.Spec(process)), "cwd");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("42\n/private\n", r.Stdout);
        fx.AssertNothingLeft(root, "cwd");
    }

    [Fact]
    public async Task A_detached_containers_closed_output_reaches_the_caller_as_eof()
    {
        // With runc only the container's processes hold the caller's stdout; once they close
        // it, a caller reading to EOF (Python's check_output, crun's tests) goes on. Here the
        // monitor relays it and must let go too, long before the container ends.
        string root = fx.NewRoot();
        const string id = "eof";
        var r = await TestEnvironment.RunAsync(TestEnvironment.CliPath, fx.Env(), TimeSpan.FromMinutes(2),
            "--root", root, "run", "--detach", "--bundle", fx.Bundle("sh", "-c", "echo before; exec >&- 2>&-; sleep 1000"), id);
        try
        {
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal("running", await StatusOf(root, id));
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    public async Task Run_keeps_stdout_and_stderr_apart_and_reads_stdin()
    {
        string root = fx.NewRoot();
        string bundle = fx.Bundle("sh", "-c", "read line; echo out:$line; echo err:$(hostname) >&2; echo env:$HOME:$(pwd)");
        var psi = new System.Diagnostics.ProcessStartInfo(TestEnvironment.CliPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in (string[])["--root", root, "run", "--bundle", bundle, "stdio"])
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in fx.Env())
        {
            psi.Environment[k] = v;
        }
        using var p = System.Diagnostics.Process.Start(psi)!;
        await p.StandardInput.WriteLineAsync("hello vm");
        p.StandardInput.Close();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, p.ExitCode);
        Assert.Equal("out:hello vm\nenv:/root:/\n", await stdout);
        Assert.Equal("err:box\n", await stderr);
        fx.AssertNothingLeft(root, "stdio");
    }

    [Fact]
    public async Task Lifecycle_edge_cases_behave_as_runc()
    {
        string root = fx.NewRoot();
        const string id = "edge";
        string bundle = fx.Bundle("sleep", "1000");
        string pidFile = Path.Combine(root, "pid");
        var created = await fx.Cli(root, "create", "--bundle", bundle, "--pid-file", pidFile, id);
        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Equal("", created.Stdout);

        try
        {
            JsonElement state = Json((await fx.Cli(root, "state", id)).Stdout);
            Assert.Equal("created", state.GetProperty("status").GetString());
            Assert.Equal(int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture), state.GetProperty("pid").GetInt32());
            Assert.Equal(bundle, state.GetProperty("bundle").GetString());
            Assert.True(Directory.Exists($"/proc/{state.GetProperty("pid").GetInt32()}"));

            // runc compat (create.bats "runc create exec"): the created init holds the namespaces.
            var inCreated = await fx.Cli(root, "exec", id, "sh", "-c", "echo in-created $(hostname)");
            Assert.True(inCreated.ExitCode == 0, inCreated.Stderr);
            Assert.Equal("in-created box\n", inCreated.Stdout);
            Assert.Equal("created", await StatusOf(root, id));

            var duplicate = await fx.Cli(root, "create", "--bundle", bundle, id);
            Assert.Equal(1, duplicate.ExitCode);
            Assert.Equal($"vmsandbox: container with id exists: {id}\n", duplicate.Stderr);

            Assert.Equal(0, (await fx.Cli(root, "start", id)).ExitCode);
            Assert.Equal("running", await StatusOf(root, id));
            var again = await fx.Cli(root, "start", id);
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("cannot start an already running container", again.Stderr, StringComparison.Ordinal);

            var list = await fx.Cli(root, "list", "--format", "json");
            Assert.Equal(id, Json(list.Stdout)[0].GetProperty("id").GetString());

            var deleteRunning = await fx.Cli(root, "delete", id);
            Assert.Equal(1, deleteRunning.ExitCode);
            Assert.Contains($"cannot delete container {id} that is not stopped: running", deleteRunning.Stderr, StringComparison.Ordinal);

            Assert.Equal(0, (await fx.Cli(root, "kill", id, "KILL")).ExitCode);
            await WaitForStatus(root, id, "stopped");
            Assert.Equal(0, Json((await fx.Cli(root, "state", id)).Stdout).GetProperty("pid").GetInt32());

            var killStopped = await fx.Cli(root, "kill", id, "TERM");
            Assert.Equal(1, killStopped.ExitCode);
            Assert.Contains("container not running", killStopped.Stderr, StringComparison.Ordinal);
            // …but `kill --all` of a stopped one succeeds (no process left to signal), and ps lists none.
            Assert.Equal(0, (await fx.Cli(root, "kill", "--all", id, "0")).ExitCode);
            var psStopped = await fx.Cli(root, "ps", "--format", "json", id);
            Assert.Equal((0, "null"), (psStopped.ExitCode, psStopped.Stdout.Trim()));
            var startStopped = await fx.Cli(root, "start", id);
            Assert.Contains("cannot start a container that has stopped", startStopped.Stderr, StringComparison.Ordinal);

            Assert.Equal(0, (await fx.Cli(root, "delete", id)).ExitCode);
            var gone = await fx.Cli(root, "state", id);
            Assert.Equal(1, gone.ExitCode);
            Assert.Contains($"container {id} does not exist", gone.Stderr, StringComparison.Ordinal);
            Assert.Equal(0, (await fx.Cli(root, "delete", "--force", id)).ExitCode);
        }
        finally
        {
            // A failed assertion above must not leave the sandbox to fail the next tests' checks.
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    public async Task A_created_container_can_be_deleted_and_a_running_one_only_with_force()
    {
        string root = fx.NewRoot();
        Assert.Equal(0, (await fx.Cli(root, "create", "--bundle", fx.Bundle("sleep", "1000"), "c1")).ExitCode);
        // The VM's first container takes the init its agent started ahead (ADR 0016): until
        // `start` that init waits, and its command line says it was pre-spawned.
        var ps = await fx.Cli(root, "ps", "--guest", "c1");
        Assert.Equal(0, (await fx.Cli(root, "delete", "c1")).ExitCode);
        Assert.True(ps.ExitCode == 0, ps.Stderr);
        Assert.Contains("vmsandbox-init __container-init --prespawned", ps.Stdout, StringComparison.Ordinal);
        fx.AssertNothingLeft(root, "c1");

        Assert.Equal(0, (await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle("sleep", "1000"), "c2")).ExitCode);
        Assert.Equal("running", await StatusOf(root, "c2"));
        Assert.Equal(0, (await fx.Cli(root, "delete", "--force", "c2")).ExitCode);
        fx.AssertNothingLeft(root, "c2");
    }

    [Fact]
    public async Task Exec_ps_pause_resume_and_events_work_on_a_running_container()
    {
        string root = fx.NewRoot();
        const string id = "busy";
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done"));
        // A host cgroup with a cpuset: the host pins the VM, the guest gets one vCPU per CPU.
        string cgroupName = "vmsb-busy-" + Guid.NewGuid().ToString("N")[..8];
        spec["linux"]!["cgroupsPath"] = "/" + cgroupName;
        spec["linux"]!["resources"] = new JsonObject { ["cpu"] = new JsonObject { ["cpus"] = "0" } };
        string cpuset = Path.Combine(Directory.Exists("/sys/fs/cgroup/cpuset") ? "/sys/fs/cgroup/cpuset" : "/sys/fs/cgroup", cgroupName);
        Assert.Equal(0, (await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle(spec), id)).ExitCode);
        try
        {
            if (File.Exists(Path.Combine(cpuset, "cpuset.cpus")))
            {
                Assert.Equal("0", File.ReadAllText(Path.Combine(cpuset, "cpuset.cpus")).Trim());
                Assert.Equal("1\n", (await fx.Cli(root, "exec", id, "nproc")).Stdout);
                if (Environment.ProcessorCount >= 2)
                {
                    // runc's update.bats: a CPU the guest does not have is still a valid host CPU.
                    var pin = await fx.Cli(root, "update", "--cpuset-cpus", "1", id);
                    Assert.True(pin.ExitCode == 0, pin.Stderr);
                    Assert.Equal("1", File.ReadAllText(Path.Combine(cpuset, "cpuset.cpus")).Trim());
                }
                var bad = await fx.Cli(root, "update", "--cpuset-cpus", "4096", id);
                Assert.Equal(1, bad.ExitCode);
                Assert.Contains("failed to write \"4096\"", bad.Stderr, StringComparison.Ordinal);
            }
            var exec = await fx.Cli(root, "exec", "--env", "X=42", "--cwd", "/tmp", id, "sh", "-c", "echo x=$X cwd=$(pwd) host=$(hostname); echo oops >&2; exit 3");
            Assert.Equal(3, exec.ExitCode);
            Assert.Equal("x=42 cwd=/tmp host=box\n", exec.Stdout);
            Assert.Equal("oops\n", exec.Stderr);

            var user = await fx.Cli(root, "exec", "--user", "1000:1001", id, "sh", "-c", "echo $(id -u):$(id -g)");
            Assert.Equal("1000:1001\n", user.Stdout);

            // runc's exec --cap adds a capability (crun's exec-add-capability); CAP_SYS_ADMIN is bit 21.
            static ulong Effective(string status) => ulong.Parse(status.Split('\t')[^1].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            var plain = await fx.Cli(root, "exec", id, "grep", "CapEff", "/proc/self/status");
            var capped = await fx.Cli(root, "exec", "--cap", "CAP_SYS_ADMIN", id, "grep", "CapEff", "/proc/self/status");
            Assert.True(capped.ExitCode == 0, capped.Stderr);
            Assert.Equal(0UL, Effective(plain.Stdout) & (1UL << 21));
            Assert.Equal(Effective(plain.Stdout) | (1UL << 21), Effective(capped.Stdout));

            var missing = await fx.Cli(root, "exec", id, "nosuchbinary");
            Assert.Equal(255, missing.ExitCode); // runc's code for an exec that could not run
            Assert.Contains("executable file not found in $PATH", missing.Stderr, StringComparison.Ordinal);

            string foregroundPid = Path.Combine(root, "fg.pid");
            Assert.Equal(0, (await fx.Cli(root, "exec", "--pid-file", foregroundPid, id, "true")).ExitCode);
            Assert.Matches("^[0-9]+$", File.ReadAllText(foregroundPid));
            string pidFile = Path.Combine(root, "exec.pid");
            Assert.Equal(0, (await fx.Cli(root, "exec", "--detach", "--pid-file", pidFile, id, "sleep", "1000")).ExitCode);
            int relay = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Directory.Exists($"/proc/{relay}"), "the exec relay runs");
            // conmon and containerd-shim-runc-v2 collect the relay's status as its subreaper once
            // exec has exited. A process that ends before exec does must leave them that status:
            // .NET's Process reaped the relay first, and podman exec exited 255. The harness holds
            // exec in its pid file's write until the relay has exited.
            string subreaper = await fx.SubreaperAsync();
            for (int i = 0; i < 3; i++)
            {
                string handedOn = Path.Combine(fx.Dir, $"relay-{Guid.NewGuid():N}.pid");
                var reaped = await TestEnvironment.RunAsync(subreaper, fx.Env(), TimeSpan.FromMinutes(3),
                    handedOn, TestEnvironment.CliPath, "--root", root, "exec", "--detach", "--pid-file", handedOn, id, "sh", "-c", "exit 5");
                Assert.True(reaped.ExitCode == 0 && reaped.Stdout == "exit 5\n", $"exec --detach under a subreaper, try {i + 1}: {reaped.Stdout}{reaped.Stderr}");
            }

            var ps = await fx.Cli(root, "ps", "--format", "json", id);
            Assert.True(ps.ExitCode == 0, ps.Stderr);
            int[] pids = Json(ps.Stdout).EnumerateArray().Select(e => e.GetInt32()).ToArray();
            // JSON lists host PIDs (what `docker top` matches against the host's ps): the
            // monitor (the container's pid in `state`) and the processes below it, QEMU among them.
            int monitor = Json((await fx.Cli(root, "state", id)).Stdout).GetProperty("pid").GetInt32();
            Assert.Contains(monitor, pids);
            Assert.DoesNotContain(1, pids);
            Assert.Contains(pids, p => File.Exists($"/proc/{p}/comm") && File.ReadAllText($"/proc/{p}/comm").StartsWith("qemu-system", StringComparison.Ordinal));
            // The table, as runc's: the host's `ps -ef` header and the sandbox's rows.
            var host = await fx.Cli(root, "ps", id);
            Assert.Matches("^UID +PID +PPID +C +STIME +TTY +TIME +CMD\n", host.Stdout);
            Assert.Contains("qemu-system", host.Stdout, StringComparison.Ordinal);
            var table = await fx.Cli(root, "ps", "--guest", id);
            Assert.Contains("sleep 1000", table.Stdout, StringComparison.Ordinal);
            Assert.Contains("sh -c i=0", table.Stdout, StringComparison.Ordinal);

            // Freezing itself is shown by AgentContainerTests (a counter stands still); here the
            // CLI's side: status, runc's errors, and the container running on after resume.
            // (An exec into a frozen container freezes too, with runc as with us.)
            Assert.Equal(0, (await fx.Cli(root, "pause", id)).ExitCode);
            Assert.Equal("paused", await StatusOf(root, id));
            var pauseAgain = await fx.Cli(root, "pause", id);
            Assert.Equal(1, pauseAgain.ExitCode);
            var execPaused = await fx.Cli(root, "exec", id, "true");
            Assert.Equal(255, execPaused.ExitCode);
            Assert.Contains("cannot exec in a paused container", execPaused.Stderr, StringComparison.Ordinal);
            // runc's update flags; an update leaves a paused container paused (update.bats).
            var update = await fx.Cli(root, "update", "--pids-limit", "30", id);
            Assert.True(update.ExitCode == 0, update.Stderr);
            Assert.Equal("paused", await StatusOf(root, id));
            await Task.Delay(1000, TestContext.Current.CancellationToken);
            Assert.Equal(0, (await fx.Cli(root, "resume", id)).ExitCode);
            Assert.Equal("running", await StatusOf(root, id));
            var resumeAgain = await fx.Cli(root, "resume", id);
            Assert.Contains("container not paused", resumeAgain.Stderr, StringComparison.Ordinal);
            var first = await fx.Cli(root, "exec", id, "cat", "/tmp/count");
            Assert.True(first.ExitCode == 0 && first.Stdout.Trim().Length > 0, $"{first.ExitCode}: '{first.Stdout}' '{first.Stderr}'");
            await Task.Delay(1500, TestContext.Current.CancellationToken);
            var second = await fx.Cli(root, "exec", id, "cat", "/tmp/count");
            Assert.True(int.Parse(second.Stdout, System.Globalization.CultureInfo.InvariantCulture) > int.Parse(first.Stdout, System.Globalization.CultureInfo.InvariantCulture), $"{first.Stdout} -> {second.Stdout}");

            var events = await fx.Cli(root, "events", "--stats", id);
            Assert.True(events.ExitCode == 0, events.Stderr);
            JsonElement data = Json(events.Stdout).GetProperty("data");
            Assert.Equal(30UL, data.GetProperty("pids").GetProperty("limit").GetUInt64());
            Assert.True(data.GetProperty("memory").GetProperty("usage").GetProperty("usage").GetUInt64() > 0, events.Stdout);
            Assert.True(data.GetProperty("cpu").GetProperty("usage").GetProperty("total").GetUInt64() > 0, events.Stdout);
            Assert.True(data.GetProperty("pids").GetProperty("current").GetUInt64() >= 2, events.Stdout);

            Assert.Equal(0, (await fx.Cli(root, "kill", "--all", id, "KILL")).ExitCode);
            await WaitForStatus(root, id, "stopped");
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
        Assert.False(Directory.Exists(cpuset), $"{cpuset} is left behind");
    }
}
