using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Ttrpc;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// The agent's container API end to end on one shared guest: a busybox rootfs on virtio-fs,
/// create/start/exec/signal/wait/remove through <see cref="AgentClient"/>, stdio on vsock
/// streams, and /probe reporting what the container sees.
/// </summary>
public sealed class AgentContainerTests : IClassFixture<ContainerVmFixture>
{
    private static int s_counter;
    private readonly ContainerVmFixture _vm;

    public AgentContainerTests(ContainerVmFixture vm)
    {
        _vm = vm;
    }

    private AgentClient Agent => _vm.Sandbox.Agent;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Running(string Id, uint Pid, Task<string> Stdout, Task<string> Stderr, Socket? Stdin);

    private static async Task<string> ReadAllAsync(Task<Socket> connection)
    {
        using Socket s = await connection;
        var ms = new MemoryStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            ms.Write(buffer, 0, n);
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private (Stdio Stdio, Task<string> Out, Task<string> Err, Task<Socket>? In) NewStdio(bool stdin)
    {
        var (outToken, outConn) = _vm.Stdio.Expect();
        var (errToken, errConn) = _vm.Stdio.Expect();
        var stdio = new Stdio
        {
            Stdout = new StdioStream { Port = ContainerVmFixture.StdioPort, Token = outToken },
            Stderr = new StdioStream { Port = ContainerVmFixture.StdioPort, Token = errToken },
        };
        Task<Socket>? inConn = null;
        if (stdin)
        {
            (ulong inToken, inConn) = _vm.Stdio.Expect();
            stdio.Stdin = new StdioStream { Port = ContainerVmFixture.StdioPort, Token = inToken };
        }
        return (stdio, ReadAllAsync(outConn), ReadAllAsync(errConn), inConn);
    }

    private async Task<Running> CreateAsync(JsonObject spec, bool stdin = false, bool terminal = false, params SharedMount[] shared)
    {
        string id = $"c{Interlocked.Increment(ref s_counter)}";
        var (stdio, stdout, stderr, stdinConn) = NewStdio(stdin);
        var request = new CreateContainerRequest
        {
            ContainerId = id,
            OciSpec = ByteString.CopyFromUtf8(spec.ToJsonString()),
            Rootfs = new RootfsMount { ShareTag = ContainerVmFixture.ShareTag, Path = "rootfs", FsType = "virtiofs" },
            Stdio = stdio,
            Terminal = terminal,
        };
        request.SharedMounts.AddRange(shared);
        CreateContainerResponse created = await Agent.CreateContainerAsync(request, null, Ct);
        Socket? stdinSocket = stdinConn is null ? null : await stdinConn.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        return new Running(id, created.Pid, stdout, stderr, stdinSocket);
    }

    private async Task<(int Code, string Stdout, string Stderr)> WaitAsync(Running c, bool remove = true)
    {
        WaitProcessResponse exit = await Agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = c.Id }, null, Ct).WaitAsync(TimeSpan.FromMinutes(2), Ct);
        string stdout = await c.Stdout.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        string stderr = await c.Stderr.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        if (remove)
        {
            await Agent.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = c.Id }, null, Ct);
        }
        return (exit.ExitCode, stdout, stderr);
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(JsonObject spec, params SharedMount[] shared)
    {
        Running c = await CreateAsync(spec, shared: shared);
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = c.Id }, null, Ct);
        return await WaitAsync(c);
    }

    private Task<(int Code, string Stdout, string Stderr)> ShAsync(string script) =>
        RunAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c", script)));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(42)]
    public async Task Exit_codes_come_back(int code)
    {
        var (exit, _, _) = await ShAsync($"exit {code}");
        Assert.Equal(code, exit);
    }

    [Fact]
    public async Task A_missing_binary_fails_create_with_runc_wording()
    {
        var e = await Assert.ThrowsAsync<TtrpcException>(() => CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("nosuchcmd"))));
        Assert.Contains("exec: \"nosuchcmd\": executable file not found in $PATH", e.Message, StringComparison.Ordinal);
        var e2 = await Assert.ThrowsAsync<TtrpcException>(() => CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/no/such"))));
        Assert.Contains("no such file or directory", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_executable_file_fails_create_with_permission_denied()
    {
        var e = await Assert.ThrowsAsync<TtrpcException>(() => CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/not-executable"))));
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigkill_gives_137_and_a_trapped_sigterm_is_delivered()
    {
        Running c = await CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done")));
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = c.Id }, null, Ct);
        await Task.Delay(1500, Ct);
        await Agent.SignalProcessAsync(new SignalProcessRequest { ContainerId = c.Id, Signal = 15 }, null, Ct);
        var (code, stdout, _) = await WaitAsync(c);
        Assert.Equal(3, code);
        Assert.Contains("got-term", stdout, StringComparison.Ordinal);

        Running k = await CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sleep", "1000")));
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = k.Id }, null, Ct);
        await Agent.SignalProcessAsync(new SignalProcessRequest { ContainerId = k.Id, Signal = 9 }, null, Ct);
        Assert.Equal(137, (await WaitAsync(k)).Code);
    }

    [Fact]
    public async Task Stdout_and_stderr_stay_apart_and_stdin_is_delivered()
    {
        Running c = await CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c", "read line; echo out:$line; echo err:$line >&2")), stdin: true);
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = c.Id }, null, Ct);
        await c.Stdin!.SendAsync(Encoding.UTF8.GetBytes("hello\n"), SocketFlags.None, Ct);
        // Sent at once: the 6 bytes may still be on their way; stdin closes after them.
        await Agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = c.Id, StdinBytes = 6 }, null, Ct);
        var (code, stdout, stderr) = await WaitAsync(c);
        Assert.Equal(0, code);
        Assert.Equal("out:hello\n", stdout);
        Assert.Equal("err:hello\n", stderr);
    }

    [Fact]
    public async Task The_probe_sees_user_env_cwd_umask_hostname_limits_and_pid_1()
    {
        JsonObject process = ContainerSpecs.Process("/probe");
        process["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1001, ["additionalGids"] = new JsonArray(2000, 2001), ["umask"] = 0x12 };
        process["env"] = new JsonArray("PATH=/bin", "GREETING=hi there");
        process["cwd"] = "/tmp";
        var (code, stdout, stderr) = await RunAsync(ContainerSpecs.Spec(process));
        Assert.True(code == 0, stderr);
        Assert.Contains("uid=1000 gid=1001 groups=1001 2000 2001", stdout, StringComparison.Ordinal);
        Assert.Contains("GREETING=hi there", stdout, StringComparison.Ordinal);
        Assert.Contains("cwd=/tmp", stdout, StringComparison.Ordinal);
        Assert.Contains("umask=0022", stdout, StringComparison.Ordinal);
        Assert.Contains("hostname=box", stdout, StringComparison.Ordinal);
        Assert.Contains("nofile=1024", stdout, StringComparison.Ordinal);
        Assert.Contains("pid=1\n", stdout, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:\t1", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "x86_64 00000000")]
    [InlineData("LINUX", "x86_64 00000000")]
    [InlineData("LINUX32", "i686 00000008")]
    public async Task The_program_runs_with_the_specs_personality_and_never_the_inits_fixed_addresses(string? domain, string expected)
    {
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c", "echo $(uname -m) $(cat /proc/self/personality)"));
        if (domain is not null)
        {
            spec["linux"]!["personality"] = new JsonObject { ["domain"] = domain };
        }
        var (code, stdout, stderr) = await RunAsync(spec);
        Assert.True(code == 0, stderr);
        Assert.Equal(expected, stdout.Trim());
    }

    [Fact]
    public async Task Readonly_root_tmpfs_and_a_shared_bind_mount_work()
    {
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c",
            "touch /x 2>/dev/null && echo root-writable; echo t > /scratch/t && echo tmpfs-ok; cat /data/in; echo from-guest > /data/out"));
        spec["root"]!["readonly"] = true;
        JsonArray mounts = spec["mounts"]!.AsArray();
        mounts.Add(ContainerSpecs.Mount("/scratch", "tmpfs", "tmpfs", "nosuid", "size=1m"));
        mounts.Add(ContainerSpecs.Mount("/data", "bind", "/host/data", "rbind", "rw"));
        await File.WriteAllTextAsync(Path.Combine(_vm.DataDir, "in"), "from-host\n", Ct);
        var (code, stdout, stderr) = await RunAsync(spec, new SharedMount { Destination = "/data", ShareTag = ContainerVmFixture.ShareTag, Path = "data" });
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("root-writable", stdout, StringComparison.Ordinal);
        Assert.Contains("tmpfs-ok", stdout, StringComparison.Ordinal);
        Assert.Contains("from-host", stdout, StringComparison.Ordinal);
        Assert.Equal("from-guest\n", await File.ReadAllTextAsync(Path.Combine(_vm.DataDir, "out"), Ct));
    }

    [Fact]
    public async Task Dropped_capabilities_are_dropped_and_seccomp_applies()
    {
        JsonObject process = ContainerSpecs.Process("/bin/sh", "-c", "chown 1:1 /tmp && echo chown-ok; mknod /tmp/n c 1 3 && echo mknod-ok; mkdir /tmp/d && echo mkdir-ok; grep -E 'CapEff|Seccomp:' /proc/self/status; exit 0");
        process["capabilities"] = ContainerSpecs.Caps(ContainerSpecs.DockerCaps.Where(c => c is not "CAP_CHOWN" and not "CAP_MKNOD"));
        JsonObject spec = ContainerSpecs.Spec(process);
        spec["linux"]!["seccomp"] = ContainerSpecs.DenyMkdir();
        var (code, stdout, stderr) = await RunAsync(spec);
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("chown-ok", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("mknod-ok", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("mkdir-ok", stdout, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Container_sees_only_its_processes_and_cannot_reach_the_agent()
    {
        var (code, stdout, stderr) = await ShAsync("kill -9 1; ps -o pid,comm | tail -n +2; echo alive");
        Assert.True(code == 0, stderr);
        Assert.Contains("alive", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("vmsandbox", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("init", stdout, StringComparison.Ordinal);
        Assert.Matches(@"^\s*1 sh", stdout);
    }

    /// <summary>
    /// Every exit status reaches its waiter, for short-lived processes that end while others start.
    /// The .NET runtime reaps all children of process 1 on SIGCHLD and drops their statuses unless
    /// the agent turns that off; this lost about one exit in three before it did.
    /// </summary>
    [Fact]
    public async Task Every_exit_status_of_many_short_execs_reaches_its_waiter()
    {
        Running c = await CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sleep", "1000")));
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = c.Id }, null, Ct);
        var waits = new List<Task<WaitProcessResponse>>();
        for (int i = 1; i <= 24; i++)
        {
            var (stdio, _, _, _) = NewStdio(stdin: false);
            string execId = $"x{i}";
            await Agent.ExecProcessAsync(new ExecProcessRequest
            {
                ContainerId = c.Id,
                ExecId = execId,
                Process = ByteString.CopyFromUtf8(ContainerSpecs.Process("/bin/sh", "-c", $"exit {i}").ToJsonString()),
                Stdio = stdio,
            }, null, Ct);
            waits.Add(Agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = c.Id, ExecId = execId }, null, Ct));
        }
        WaitProcessResponse[] exits = await Task.WhenAll(waits).WaitAsync(TimeSpan.FromMinutes(2), Ct);
        Assert.Equal(Enumerable.Range(1, 24), exits.Select(e => e.ExitCode));

        // The container's pid 1 killed right after start: its status comes back too.
        await Agent.SignalProcessAsync(new SignalProcessRequest { ContainerId = c.Id, Signal = 9 }, null, Ct);
        Assert.Equal(137, (await WaitAsync(c)).Code);
    }

    [Fact]
    public async Task An_exec_gets_the_containers_seccomp_filter()
    {
        // runc compat: an exec'd process runs under the container's linux.seccomp, which the
        // agent hands the exec's container init typed, from its one parse of config.json.
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c", "while true; do sleep 0.1; done"));
        spec["linux"]!["seccomp"] = ContainerSpecs.DenyMkdir();
        Running c = await CreateAsync(spec);
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = c.Id }, null, Ct);
        var (stdio, stdout, _, _) = NewStdio(stdin: false);
        await Agent.ExecProcessAsync(new ExecProcessRequest
        {
            ContainerId = c.Id,
            ExecId = "e1",
            Process = ByteString.CopyFromUtf8(ContainerSpecs.Process("/bin/sh", "-c", "mkdir /tmp/e && echo mkdir-ok; grep Seccomp: /proc/self/status; exit 0").ToJsonString()),
            Stdio = stdio,
        }, null, Ct);
        WaitProcessResponse exit = await Agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = c.Id, ExecId = "e1" }, null, Ct);
        string seen = await stdout.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await Agent.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = c.Id, TimeoutMs = 1000 }, null, Ct);
        Assert.Equal(0, exit.ExitCode);
        Assert.DoesNotContain("mkdir-ok", seen, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2", seen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exec_joins_the_namespaces_with_and_without_tty_and_ps_pause_stats_work()
    {
        Running c = await CreateAsync(ContainerSpecs.Spec(ContainerSpecs.Process("/bin/sh", "-c", "echo marker > /dev/shm/m; i=0; while true; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.05; done")));
        await Agent.StartContainerAsync(new StartContainerRequest { ContainerId = c.Id }, null, Ct);
        await Task.Delay(1000, Ct);

        async Task<string> ExecAsync(string execId, string script, bool tty = false)
        {
            JsonObject process = ContainerSpecs.Process("/bin/sh", "-c", script);
            process["terminal"] = tty;
            var (stdio, stdout, _, _) = NewStdio(stdin: false);
            await Agent.ExecProcessAsync(new ExecProcessRequest
            {
                ContainerId = c.Id,
                ExecId = execId,
                Process = ByteString.CopyFromUtf8(process.ToJsonString()),
                Stdio = stdio,
                Terminal = tty,
            }, null, Ct);
            WaitProcessResponse exit = await Agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = c.Id, ExecId = execId }, null, Ct);
            Assert.Equal(0, exit.ExitCode);
            return await stdout.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        }

        string seen = await ExecAsync("e1", "hostname; cat /dev/shm/m; echo pid=$$");
        Assert.Contains("box", seen, StringComparison.Ordinal);
        Assert.Contains("marker", seen, StringComparison.Ordinal);
        Assert.DoesNotContain("pid=1\n", seen, StringComparison.Ordinal);
        string tty = await ExecAsync("e2", "test -t 0 && echo is-a-tty; tty", tty: true);
        Assert.Contains("is-a-tty", tty, StringComparison.Ordinal);
        Assert.Contains("/dev/pts/", tty, StringComparison.Ordinal);

        ListProcessesResponse ps = await Agent.ListProcessesAsync(new ListProcessesRequest { ContainerId = c.Id }, null, Ct);
        Assert.Contains(ps.Processes, p => p.Pid == c.Pid && p.Command == "sh" && p.ExecId.Length == 0);

        StatsResponse stats = await Agent.StatsAsync(new StatsRequest { ContainerId = c.Id }, null, Ct);
        Assert.True(stats.Cpu.UsageUsec > 0);
        Assert.True(stats.Memory.UsageBytes > 0);
        Assert.True(stats.Pids.Current > 0);

        await Agent.PauseContainerAsync(new PauseContainerRequest { ContainerId = c.Id }, null, Ct);
        string before = await CountAsync(c.Id);
        await Task.Delay(1000, Ct);
        string after = await CountAsync(c.Id);
        await Agent.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = c.Id }, null, Ct);
        Assert.Equal(before, after);
        await Agent.UpdateContainerAsync(new UpdateContainerRequest { ContainerId = c.Id, Resources = ByteString.CopyFromUtf8("{\"pids\":{\"limit\":100}}") }, null, Ct);
        // Resumed: its loop spawns a new sleep every 50 ms. Polled, not timed: under TCG on a
        // busy host the first one after the thaw may take longer than any fixed wait.
        string resumed = after;
        for (int i = 0; i < 100 && resumed == after; i++)
        {
            await Task.Delay(100, Ct);
            resumed = await CountAsync(c.Id);
        }
        Assert.NotEqual(after, resumed);

        await Agent.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = c.Id, TimeoutMs = 1000 }, null, Ct);
        var gone = await Assert.ThrowsAsync<TtrpcException>(() => Agent.ListProcessesAsync(new ListProcessesRequest { ContainerId = c.Id }, null, Ct));
        Assert.Equal(StatusCode.NotFound, gone.Status);
        // A container's cgroup namespace makes its own cgroup the root: its limits show at
        // /sys/fs/cgroup, the agent's hierarchy (and the removed container's cgroup) does not.
        var (_, cgroups, _) = await ShAsync("cat /proc/self/cgroup; test -e /sys/fs/cgroup/memory.max && echo own-limits; test -e /sys/fs/cgroup/vmsandbox || echo no-agent-tree");
        Assert.Equal("0::/\nown-limits\nno-agent-tree\n", cgroups);

        // The counter is read through the process list: the container's own pid 1 keeps running.
        async Task<string> CountAsync(string id)
        {
            ListProcessesResponse list = await Agent.ListProcessesAsync(new ListProcessesRequest { ContainerId = id }, null, Ct);
            return string.Join(',', list.Processes.Select(p => p.Pid));
        }
    }
}
