using System.Diagnostics;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// Real /bin/sh hooks in a temp directory: what runc's hook tests and behaviour pin down. Runs
/// alone (<see cref="HookRunnerCollection"/>): one test counts this process's descriptors, which
/// parallel tests open too.
/// </summary>
[Collection(nameof(HookRunnerCollection))]
public sealed class HookRunnerTests : IDisposable
{
    private static readonly HookState s_state = new()
    {
        OciVersion = "1.0.2",
        Id = "c1",
        Status = "creating",
        Pid = 4242,
        Bundle = "/run/bundles/c1",
        Annotations = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" },
    };

    private const string InheritedVariable = "VMSANDBOX_HOOK_TEST_INHERITED";

    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-hooks-").FullName;
    private readonly HookRunner _runner = new() { ExitGrace = TimeSpan.FromMilliseconds(300) };

    public HookRunnerTests()
    {
        Environment.SetEnvironmentVariable(InheritedVariable, "from-runtime");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Script(string name, string body)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static Hook Sh(string script, IReadOnlyList<string>? env = null, int? timeout = null) =>
        new() { Path = "/bin/sh", Args = ["sh", "-c", script], Env = env, Timeout = timeout };

    private VmSandboxException Fails(HookKind kind, params Hook[] hooks) =>
        Assert.Throws<VmSandboxException>(() => _runner.Run(kind, hooks, s_state));

    [Fact]
    public void The_state_json_arrives_on_stdin()
    {
        string output = Path.Combine(_dir, "stdin.json");
        string hook = Script("cat-stdin", "cat > \"$1\"");
        _runner.Run(HookKind.CreateRuntime, [new Hook { Path = hook, Args = [hook, output] }], s_state);
        Assert.Equal(StateJson.FormatHookState(s_state), File.ReadAllText(output));
        Assert.Equal("{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":4242,\"bundle\":\"/run/bundles/c1\",\"annotations\":{\"a\":\"1\",\"b\":\"2\"}}",
            File.ReadAllText(output));
    }

    [Theory]
    [InlineData(new string[0], "")]
    [InlineData(new[] { "A=1" }, "A=1\n")]
    [InlineData(new[] { "A=1", "B=two words", "EMPTY=" }, "A=1\nB=two words\nEMPTY=\n")]
    [InlineData(new[] { "X=1", "X=2" }, "X=1\nX=2\n")]
    public void The_environment_is_exactly_the_hooks_env(string[] env, string expected)
    {
        HookProcessResult r = HookProcess.Run("/usr/bin/env", ["env"], env, [], null, TimeSpan.FromSeconds(1));
        Assert.Equal(new ChildExit(0, 0, false), r.Exit);
        Assert.Equal(expected, r.Stdout);
    }

    [Fact]
    public void A_given_env_replaces_the_runtimes_environment()
    {
        _runner.Run(HookKind.Prestart, [Sh($"[ \"$A\" = 1 ] && [ -z \"${{{InheritedVariable}+set}}\" ] || exit 9", env: ["A=1"])], s_state);
    }

    [Fact]
    public void No_env_inherits_the_runtimes_environment_as_runc_does()
    {
        _runner.Run(HookKind.Prestart, [Sh($"[ \"${InheritedVariable}\" = from-runtime ] || exit 9")], s_state);
    }

    [Fact]
    public void No_env_takes_the_default_env_when_one_is_given()
    {
        var runner = new HookRunner(["ONLY=me"]);
        runner.Run(HookKind.StartContainer, [Sh($"[ \"$ONLY\" = me ] && [ -z \"${{{InheritedVariable}+set}}\" ] || exit 9")], s_state);
    }

    [Theory]
    [InlineData("custom-name")]
    [InlineData("libnetwork-setkey")]
    [InlineData("/bin/sh")]
    public void Args0_is_argv0_even_when_it_differs_from_path(string argv0)
    {
        var hook = new Hook { Path = "/bin/sh", Args = [argv0, "-c", "echo \"$0\"; exit 1"] };
        VmSandboxException e = Fails(HookKind.Prestart, hook);
        Assert.Contains($"stdout: {argv0}\n, stderr: ", VmSandboxException.FormatChain(e), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Args_after_argv0_are_the_positional_arguments(int? count)
    {
        string hook = Script("argc", "echo \"$#:$*\"; exit 1");
        IReadOnlyList<string>? args = count is null ? null : Enumerable.Range(0, count.Value).Select(i => $"a{i}").ToList();
        VmSandboxException e = Fails(HookKind.Prestart, new Hook { Path = hook, Args = args });
        string expected = count is null or 0 or 1 ? "0:" : "2:a1 a2";
        Assert.Contains($"stdout: {expected}\n,", VmSandboxException.FormatChain(e), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HookKind.Prestart, "prestart", 0)]
    [InlineData(HookKind.CreateRuntime, "createRuntime", 1)]
    [InlineData(HookKind.CreateContainer, "createContainer", 0)]
    [InlineData(HookKind.StartContainer, "startContainer", 0)]
    [InlineData(HookKind.Poststart, "poststart", 0)]
    [InlineData(HookKind.Poststop, "poststop", 1)]
    public void A_failing_hook_reports_runcs_message_with_its_output(HookKind kind, string name, int index)
    {
        Hook ok = Sh("exit 0");
        Hook bad = Sh("echo out; echo err >&2; exit 3");
        Hook[] hooks = index == 0 ? [bad] : [ok, bad];
        VmSandboxException e = Fails(kind, hooks);
        Assert.Equal($"error running {name} hook #{index}: exit status 3, stdout: out\n, stderr: err\n", VmSandboxException.FormatChain(e));
    }

    [Fact]
    public void A_hook_killed_by_a_signal_says_so_in_gos_words()
    {
        VmSandboxException e = Fails(HookKind.Poststop, Sh("kill -TERM $$"));
        Assert.Equal("error running poststop hook #0: signal: terminated, stdout: , stderr: ", VmSandboxException.FormatChain(e));
    }

    [Theory]
    [InlineData(0, 0, false, "exit status 0")]
    [InlineData(255, 0, false, "exit status 255")]
    [InlineData(-1, 9, false, "signal: killed")]
    [InlineData(-1, 6, true, "signal: aborted (core dumped)")]
    [InlineData(-1, 31, false, "signal: bad system call")]
    [InlineData(-1, 64, false, "signal: signal 64")]
    public void Exit_text_matches_gos_process_state(int code, int signal, bool core, string expected) =>
        Assert.Equal(expected, HookRunner.ExitText(new ChildExit(code, signal, core)));

    [Fact]
    public void The_first_failure_stops_the_list()
    {
        string a = Path.Combine(_dir, "a");
        string c = Path.Combine(_dir, "c");
        VmSandboxException e = Fails(HookKind.CreateRuntime, Sh($"touch {a}"), Sh("exit 1"), Sh($"touch {c}"));
        Assert.StartsWith("error running createRuntime hook #1: exit status 1", VmSandboxException.FormatChain(e), StringComparison.Ordinal);
        Assert.True(File.Exists(a));
        Assert.False(File.Exists(c));
    }

    [Fact]
    public void RunAll_runs_every_hook_and_returns_the_failures()
    {
        string c = Path.Combine(_dir, "c");
        IReadOnlyList<VmSandboxException> failures = _runner.RunAll(HookKind.Poststop, [Sh("exit 1"), Sh("exit 2"), Sh($"touch {c}")], s_state);
        Assert.Equal(["error running poststop hook #0: exit status 1, stdout: , stderr: ", "error running poststop hook #1: exit status 2, stdout: , stderr: "],
            failures.Select(VmSandboxException.FormatChain));
        Assert.True(File.Exists(c));
    }

    [Fact]
    public void No_hooks_is_a_no_op()
    {
        _runner.Run(HookKind.Prestart, (IReadOnlyList<Hook>?)null, s_state);
        _runner.Run(HookKind.Prestart, [], s_state);
        _runner.Run(HookKind.Poststop, (Hooks?)null, s_state);
        Assert.Empty(_runner.RunAll(HookKind.Poststop, null, s_state));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_hook_past_its_timeout_is_killed_with_its_children(int timeout)
    {
        string pidFile = Path.Combine(_dir, "child.pid");
        var clock = Stopwatch.StartNew();
        VmSandboxException e = Fails(HookKind.CreateRuntime, Sh($"sleep 60 & echo $! > {pidFile}; wait", timeout: timeout));
        clock.Stop();
        Assert.Equal(ErrorCode.Timeout, e.Code);
        Assert.Equal($"error running createRuntime hook #0: hook ran past specified timeout of {timeout}.0s", VmSandboxException.FormatChain(e));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(timeout - 0.1), TimeSpan.FromSeconds(timeout + 5));
        int child = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(IsGoneOrZombie(child), $"the hook's child {child} survived the timeout");
    }

    [Fact]
    public void A_hook_within_its_timeout_succeeds() =>
        _runner.Run(HookKind.CreateRuntime, [Sh("sleep 0.1", timeout: 5)], s_state);

    [Theory]
    [InlineData("/nonexistent/hook", "no such file or directory")]
    [InlineData("/", "permission denied")]
    [InlineData("{dir}/plain-file", "permission denied")]
    [InlineData("{dir}/garbage", "exec format error")]
    public void A_path_that_cannot_run_fails_with_the_errno(string path, string text)
    {
        string plain = Path.Combine(_dir, "plain-file");
        File.WriteAllText(plain, "#!/bin/sh\n");
        string garbage = Path.Combine(_dir, "garbage");
        File.WriteAllBytes(garbage, [0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0]);
        File.SetUnixFileMode(garbage, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        path = path.Replace("{dir}", _dir, StringComparison.Ordinal);
        VmSandboxException e = Fails(HookKind.Prestart, new Hook { Path = path });
        string chain = VmSandboxException.FormatChain(e);
        Assert.StartsWith("error running prestart hook #0: posix_spawn " + path + ": ", chain, StringComparison.Ordinal);
        Assert.Contains(text, chain, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", null, "path \"\" is not absolute")]
    [InlineData("bin/true", null, "path \"bin/true\" is not absolute")]
    [InlineData("/bin/true", 0, "timeout 0 is not a positive number of seconds")]
    [InlineData("/bin/true", -1, "timeout -1 is not a positive number of seconds")]
    [InlineData("/bin/tr\0ue", null, "path contains a nul byte")]
    public void Invalid_hooks_are_refused_before_anything_runs(string path, int? timeout, string problem)
    {
        VmSandboxException e = Fails(HookKind.Prestart, new Hook { Path = path, Timeout = timeout });
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal("error running prestart hook #0: " + problem, VmSandboxException.FormatChain(e));
    }

    [Fact]
    public void A_hook_that_never_reads_stdin_does_not_block_even_with_a_large_state()
    {
        var big = s_state with { Annotations = new Dictionary<string, string> { ["big"] = new string('x', 1 << 20) } };
        var clock = Stopwatch.StartNew();
        _runner.Run(HookKind.Prestart, [Sh("exit 0", timeout: 20)], big);
        _runner.Run(HookKind.Prestart, [Sh("exec 0<&-; sleep 0.2", timeout: 20)], big);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_hook_that_writes_a_lot_before_reading_stdin_does_not_deadlock()
    {
        var big = s_state with { Annotations = new Dictionary<string, string> { ["big"] = new string('x', 300_000) } };
        string hook = Script("chatty", "head -c 400000 /dev/zero | tr '\\0' y; cat >/dev/null; echo done >&2; exit 1");
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => _runner.Run(HookKind.Prestart, [new Hook { Path = hook, Timeout = 20 }], big));
        string chain = VmSandboxException.FormatChain(e);
        Assert.EndsWith(", stderr: done\n", chain, StringComparison.Ordinal);
        Assert.Contains(new string('y', 400_000), chain, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_past_the_capture_limit_is_dropped_not_blocked_on()
    {
        HookProcessResult r = HookProcess.Run("/bin/sh", ["sh", "-c", $"head -c {HookProcess.MaxCapture + 10} /dev/zero"], [], [], TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(1));
        Assert.Equal(0, r.Exit!.Value.Code);
        Assert.Equal(HookProcess.MaxCapture + "[truncated]".Length, r.Stdout.Length);
    }

    [Fact]
    public void A_daemon_left_holding_stdout_delays_the_result_only_by_the_grace()
    {
        var clock = Stopwatch.StartNew();
        _runner.Run(HookKind.Poststart, [Sh("sleep 5 & exit 0")], s_state);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void Only_stdio_reaches_the_hook_and_no_signal_is_ignored_or_blocked()
    {
        // ls opens fd 3 for the directory it lists.
        HookProcessResult fds = HookProcess.Run("/usr/bin/ls", ["ls", "/proc/self/fd"], [], [], null, TimeSpan.FromSeconds(1));
        Assert.Equal("0\n1\n2\n3\n", fds.Stdout);
        HookProcessResult sig = HookProcess.Run("/usr/bin/grep", ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"], [], [], null, TimeSpan.FromSeconds(1));
        string[] masks = sig.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[1]).ToArray();
        Assert.Equal(2, masks.Length);
        // Signals 1-31 (SIGPIPE, which .NET ignores, included). glibc's posix_spawn leaves its own
        // internal signals 32 and 33 ignored; the hook's libc installs their handlers again.
        Assert.All(masks, m => Assert.Equal(0UL, ulong.Parse(m, System.Globalization.NumberStyles.HexNumber, null) & 0x7fffffffUL));
    }

    [Fact]
    public void Running_hooks_leaks_no_descriptors()
    {
        _runner.Run(HookKind.Prestart, [Sh("exit 0")], s_state);
        int before = Directory.GetFiles("/proc/self/fd").Length;
        for (int i = 0; i < 10; i++)
        {
            _runner.Run(HookKind.Prestart, [Sh("cat >/dev/null")], s_state);
            _ = _runner.RunAll(HookKind.Prestart, [Sh("exit 1"), new Hook { Path = "/nonexistent" }], s_state);
        }
        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length, 0, before + 2);
    }

    [Theory]
    [InlineData(HookKind.Prestart, "prestart")]
    [InlineData(HookKind.CreateRuntime, "createRuntime")]
    [InlineData(HookKind.CreateContainer, "createContainer")]
    [InlineData(HookKind.StartContainer, "startContainer")]
    [InlineData(HookKind.Poststart, "poststart")]
    [InlineData(HookKind.Poststop, "poststop")]
    public void Select_picks_the_list_named_like_the_spec(HookKind kind, string name)
    {
        var hooks = new Hooks
        {
            Prestart = [new Hook { Path = "/prestart" }],
            CreateRuntime = [new Hook { Path = "/createRuntime" }],
            CreateContainer = [new Hook { Path = "/createContainer" }],
            StartContainer = [new Hook { Path = "/startContainer" }],
            Poststart = [new Hook { Path = "/poststart" }],
            Poststop = [new Hook { Path = "/poststop" }],
        };
        Assert.Equal(name, HookRunner.SpecName(kind));
        Assert.Equal("/" + name, Assert.Single(HookRunner.Select(hooks, kind)!).Path);
        Assert.Null(HookRunner.Select(null, kind));
    }

    private static bool IsGoneOrZombie(int pid)
    {
        for (int i = 0; i < 50; i++)
        {
            string stat = $"/proc/{pid}/stat";
            try
            {
                string text = File.ReadAllText(stat, Encoding.ASCII);
                if (text[(text.LastIndexOf(')') + 2)..].StartsWith('Z'))
                {
                    return true;
                }
            }
            catch (IOException)
            {
                return true;
            }
            Thread.Sleep(20);
        }
        return false;
    }
}

[CollectionDefinition(nameof(HookRunnerCollection), DisableParallelization = true)]
public sealed class HookRunnerCollection;
