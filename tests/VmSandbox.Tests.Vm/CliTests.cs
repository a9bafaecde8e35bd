using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// The published NativeAOT CLI, as a user runs it: `boot` and `check`, and bad input that must
/// give one clear line, a non-zero exit and no leftovers (no QEMU process, no state directory).
/// </summary>
public sealed class CliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vmsandbox-clitest-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Dictionary<string, string> Env(params (string Key, string Value)[] extra)
    {
        TestEnvironment.RequireBuild();
        // An empty config file: the host's /etc/vmsandbox/config.json must not change the outcome.
        string config = Path.Combine(_root, "config.json");
        File.WriteAllText(config, "{}");
        var env = new Dictionary<string, string>
        {
            ["VMSANDBOX_CONFIG"] = config,
            ["VMSANDBOX_GUEST__DIR"] = TestEnvironment.GuestDir,
            ["VMSANDBOX_HYPERVISOR__BOOTTIMEOUTSECONDS"] = "120",
        };
        foreach (var (k, v) in extra)
        {
            env[k] = v;
        }
        return env;
    }

    private void AssertNothingLeft(string id)
    {
        Assert.Empty(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));
        Assert.False(Directory.Exists(Path.Combine(_root, "state", "vm-" + id)), "state directory left behind");
    }

    [Fact]
    public async Task Boot_prints_the_agent_greeting_and_powers_off()
    {
        var r = await TestEnvironment.RunCliAsync(Env(), TimeSpan.FromMinutes(3), "--root", Path.Combine(_root, "state"), "boot", "--id", "clitest");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"^sandbox clitest: vmsandbox-agent: ready version=0\.1\.0\S* started_ms=\d+ ready_ms=\d+ modules=\d+ api=vsock:1024$", r.Stdout.Split('\n')[0]);
        Assert.Contains("stopped: GuestPoweredOff", r.Stdout, StringComparison.Ordinal);
        AssertNothingLeft("clitest");
    }

    [Fact]
    public async Task A_killed_owner_leaves_no_vm_and_sigterm_stops_it_cleanly()
    {
        // Boot twice with --wait: SIGTERM must power the guest off and clean up; SIGKILL gives the
        // CLI no chance to clean up, so the kernel's parent-death signal must take QEMU down.
        foreach (var (signal, id) in new[] { (15, "waitterm"), (9, "waitkill") })
        {
            var psi = new System.Diagnostics.ProcessStartInfo(TestEnvironment.CliPath)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string a in (string[])["--root", Path.Combine(_root, "state"), "boot", "--wait", "--id", id])
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var (k, v) in Env())
            {
                psi.Environment[k] = v;
            }
            using var cli = new System.Diagnostics.Process { StartInfo = psi };
            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
            cli.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    running.TrySetException(new InvalidOperationException("boot --wait ended early: " + string.Join('\n', output)));
                    return;
                }
                output.Enqueue(e.Data);
                if (e.Data.Contains("running;", StringComparison.Ordinal))
                {
                    running.TrySetResult();
                }
            };
            cli.ErrorDataReceived += (_, e) => output.Enqueue("stderr: " + e.Data);
            cli.Start();
            cli.BeginOutputReadLine();
            cli.BeginErrorReadLine();
            using var boot = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            boot.CancelAfter(TimeSpan.FromMinutes(3));
            await running.Task.WaitAsync(boot.Token);
            Assert.Single(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));

            Assert.Equal(0, Tmds.Linux.LibC.kill(cli.Id, signal));
            await cli.WaitForExitAsync(boot.Token);
            if (signal == 15)
            {
                Assert.Equal(0, cli.ExitCode);
                cli.WaitForExit(); // drains the output events
                Assert.Contains("stopped: GuestPoweredOff", output);
            }
            DateTime deadline = DateTime.UtcNow.AddSeconds(10);
            while (TestEnvironment.ProcessesMatching($"vmsandbox-{id},").Count > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
            Assert.Empty(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));
            if (signal == 15)
            {
                AssertNothingLeft(id);
            }
        }
    }

    public static TheoryData<string, string, string, string> BadInput => new()
    {
        { "VMSANDBOX_GUEST__KERNEL", "/nonexistent/vmlinuz", "", "vmsandbox: boot sandbox bad: guest kernel /nonexistent/vmlinuz not found (fix: make guest)" },
        { "VMSANDBOX_GUEST__INITRD", "/nonexistent/initrd", "", "vmsandbox: boot sandbox bad: guest initramfs /nonexistent/initrd not found (fix: make guest)" },
        { "VMSANDBOX_HYPERVISOR__PATH", "/nonexistent/qemu", "", "vmsandbox: boot sandbox bad: qemu /nonexistent/qemu not found (fix: make setup" },
        { "VMSANDBOX_HYPERVISOR__MEMORY", "lots", "", "vmsandbox: config " },
        { "VMSANDBOX_HYPERVISOR__MEMORY", "16M", "", "vmsandbox: config " },
        { "VMSANDBOX_HYPERVISOR__MACHINE", "no-such-machine", "", "vmsandbox: config " },
        { "VMSANDBOX_HYPERVISOR__PATH", "/bin/false", "", "vmsandbox: boot sandbox bad: qemu for bad exited with code 1" },
        { "VMSANDBOX_CONFIG", "/nonexistent/config.json", "", "vmsandbox: config file /nonexistent/config.json is not a readable file" },
        { "VMSANDBOX_CONFIG", "/", "", "vmsandbox: config file / is not a readable file" },
        { "VMSANDBOX_UNUSED", "", "{ \"hypervisor\": ", "vmsandbox: read config file " },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_input_is_one_clear_line_and_leaves_nothing(string key, string value, string configText, string expectedPrefix)
    {
        var env = Env((key, value));
        if (configText.Length > 0)
        {
            File.WriteAllText(env["VMSANDBOX_CONFIG"], configText);
        }
        var r = await TestEnvironment.RunCliAsync(env, TimeSpan.FromMinutes(1), "--root", Path.Combine(_root, "state"), "boot", "--id", "bad");
        Assert.Equal(1, r.ExitCode);
        string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => !l.Contains("warning:", StringComparison.Ordinal));
        Assert.StartsWith(expectedPrefix, line, StringComparison.Ordinal);
        if (key == "VMSANDBOX_HYPERVISOR__MEMORY")
        {
            Assert.Contains($"hypervisor.memory \"{value}\" is ", line, StringComparison.Ordinal);
        }
        if (key == "VMSANDBOX_HYPERVISOR__MACHINE")
        {
            Assert.EndsWith($"hypervisor.machine \"{value}\" is neither auto, microvm nor q35 (fix: use auto, microvm or q35)", line, StringComparison.Ordinal);
        }
        Assert.Equal("", r.Stdout);
        AssertNothingLeft("bad");
    }

    [Theory]
    [InlineData("--memory", "abc", "config.json: hypervisor.memory \"abc\" is not a size (fix: use a size such as \"512M\" or \"2G\")")]
    [InlineData("--id", "../escape", "vmsandbox: invalid id \"../escape\": id may contain only letters, digits and _ . + -")]
    [InlineData("--accel", "hvf", "config.json: accelerator \"hvf\" is not one of auto, kvm, tcg")]
    [InlineData("--bogus", "1", "vmsandbox: unknown flag --bogus for boot")]
    public async Task Bad_flags_are_one_clear_line(string flag, string value, string expected)
    {
        var r = await TestEnvironment.RunCliAsync(Env(), TimeSpan.FromMinutes(1), "--root", Path.Combine(_root, "state"), "boot", flag, value);
        Assert.NotEqual(0, r.ExitCode);
        string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("vmsandbox: ", line, StringComparison.Ordinal);
        Assert.EndsWith(expected, line, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(Path.Combine(_root, "state")) ? Directory.GetDirectories(Path.Combine(_root, "state")) : []);
    }

    [Fact]
    public async Task Check_passes_on_a_prepared_host()
    {
        var r = await TestEnvironment.RunCliAsync(Env(), TimeSpan.FromMinutes(1), "check");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("ok       guest kernel", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("result: this host can start sandbox VMs", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_names_the_fix_for_a_missing_guest_image_and_fails()
    {
        var r = await TestEnvironment.RunCliAsync(Env(("VMSANDBOX_GUEST__DIR", "/nonexistent")), TimeSpan.FromMinutes(1), "check");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("MISSING  guest kernel     /nonexistent/vmlinuz not found", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("fix: make guest", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("result: this host cannot start sandbox VMs yet", r.Stdout, StringComparison.Ordinal);
    }
}
