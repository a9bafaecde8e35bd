using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// A busybox rootfs (tests/fixtures/make-rootfs.sh) shared by the CLI lifecycle tests, a short
/// state root for them, and helpers to write bundles and run `vmsandbox` against that root.
/// </summary>
public sealed class BundleFixture : IAsyncLifetime
{
    // Short: unix socket paths under it must fit in 107 bytes.
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-").FullName;

    /// <summary>The fixture's directory: every command line, mount and socket of its sandboxes names it.</summary>
    public string Dir => _dir;

    public string Rootfs => Path.Combine(_dir, "rootfs");

    public string StateRoot => Path.Combine(_dir, "run");

    public async ValueTask InitializeAsync()
    {
        TestEnvironment.RequireBuild();
        var psi = new ProcessStartInfo(Path.Combine(TestEnvironment.RepoRoot, "tests", "fixtures", "make-rootfs.sh"), Rootfs);
        using var p = Process.Start(psi)!;
        await p.WaitForExitAsync();
        Assert.Equal(0, p.ExitCode);
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{}");
    }

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }

    private Task<string>? _subreaper;

    /// <summary>
    /// tests/VmSandbox.Tests.Vm/native/subreaper.c, built once per fixture: conmon's and
    /// containerd-shim-runc-v2's part towards a helper's PID (gcc comes with `make setup`).
    /// </summary>
    public Task<string> SubreaperAsync() => _subreaper ??= BuildSubreaperAsync();

    private async Task<string> BuildSubreaperAsync()
    {
        string exe = Path.Combine(_dir, "subreaper");
        string source = Path.Combine(TestEnvironment.RepoRoot, "tests", "VmSandbox.Tests.Vm", "native", "subreaper.c");
        if (!File.Exists("/usr/bin/gcc"))
        {
            throw new InvalidOperationException("gcc is missing: run `make setup` (it installs build-essential)");
        }
        TestEnvironment.CliResult cc = await TestEnvironment.RunAsync("/usr/bin/gcc", new Dictionary<string, string>(), TimeSpan.FromMinutes(2), "-O2", "-Wall", "-Werror", "-o", exe, source);
        Assert.True(cc.ExitCode == 0, $"gcc {source}: {cc.Stderr}");
        return exe;
    }

    public Dictionary<string, string> Env() => new()
    {
        ["VMSANDBOX_CONFIG"] = Path.Combine(_dir, "config.json"),
        ["VMSANDBOX_GUEST__DIR"] = TestEnvironment.GuestDir,
        ["VMSANDBOX_HYPERVISOR__BOOTTIMEOUTSECONDS"] = "180",
        ["VMSANDBOX_STATEROOT"] = StateRoot,
    };

    /// <summary>A bundle whose config.json is <paramref name="spec"/> with root.path pointing at the shared rootfs.</summary>
    public string Bundle(JsonObject spec)
    {
        string bundle = Directory.CreateDirectory(Path.Combine(_dir, "b-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        spec["root"]!["path"] = Rootfs;
        File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());
        return bundle;
    }

    public string Bundle(params string[] args) => Bundle(ContainerSpecs.Spec(ContainerSpecs.Process(args)));

    /// <summary>
    /// Runs `vmsandbox --root ROOT ARGS…` and returns once it exited. `create` and `run --detach`
    /// leave the sandbox monitor holding our stdout/stderr (they are the container's, as with
    /// runc), so the output is what arrived by the exit, not what arrived by EOF.
    /// </summary>
    internal Task<TestEnvironment.CliResult> Cli(string root, params string[] args) => CliWith(null, root, args);

    /// <summary><see cref="Cli"/> with more environment variables (e.g. VMSANDBOX_GUEST__KERNEL).</summary>
    internal async Task<TestEnvironment.CliResult> CliWith(IDictionary<string, string>? env, string root, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(TestEnvironment.CliPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["--root", root, .. args])
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env is null ? Env() : Env().Concat(env))
        {
            psi.Environment[k] = v;
        }
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        using var p = new System.Diagnostics.Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        p.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        // Not WaitForExitAsync: with event readers it also waits for EOF of both streams.
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (!p.HasExited)
        {
            if (DateTime.UtcNow > deadline)
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"vmsandbox {string.Join(' ', args)} ran past 4 minutes");
            }
            await Task.Delay(20);
        }
        await Task.Delay(100);
        lock (stdout)
        {
            lock (stderr)
            {
                return new TestEnvironment.CliResult(p.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }

    private static void Append(System.Text.StringBuilder sb, string? line)
    {
        if (line is not null)
        {
            lock (sb)
            {
                sb.Append(line).Append('\n');
            }
        }
    }

    /// <summary>A fresh --root for one test.</summary>
    public string NewRoot() => Directory.CreateDirectory(Path.Combine(_dir, "r-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>Nothing of <paramref name="id"/> is left: no process, no state, no sandbox run directory.</summary>
    public void AssertNothingLeft(string root, string id)
    {
        Assert.Empty(TestEnvironment.ProcessesMatching($"vmsandbox-{id},"));
        Assert.False(Directory.Exists(Path.Combine(root, id)), $"{root}/{id} is left");
        string runs = Path.Combine(StateRoot, ".s");
        Assert.True(!Directory.Exists(runs) || Directory.GetDirectories(runs).Length == 0,
            $"sandbox run directories left: {(Directory.Exists(runs) ? string.Join(", ", Directory.GetDirectories(runs)) : "")}");
        string mounts = File.ReadAllText("/proc/self/mountinfo");
        Assert.DoesNotContain(StateRoot, mounts, StringComparison.Ordinal);
    }
}
