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

    internal Task<TestEnvironment.CliResult> Cli(string root, params string[] args) =>
        TestEnvironment.RunCliAsync(Env(), TimeSpan.FromMinutes(4), ["--root", root, .. args]);

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
