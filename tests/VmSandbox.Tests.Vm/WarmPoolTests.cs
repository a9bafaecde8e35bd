using System.Text.Json;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// The warm pool (ADR 0018): with pool.size set, containers take VMs booted ahead of time, each
/// VM serves one container and ends with it, the pool boots a replacement, and drain ends the
/// unclaimed ones. Three pooled VM boots for the whole test.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class WarmPoolTests(BundleFixture fx)
{
    private static readonly Dictionary<string, string> s_pool = new() { ["VMSANDBOX_POOL__SIZE"] = "1" };

    private Task<TestEnvironment.CliResult> Cli(string root, params string[] args) => fx.CliWith(s_pool, root, args);

    private async Task FillAsync(string root)
    {
        var fill = await Cli(root, "pool", "fill", "--wait", "180");
        Assert.True(fill.ExitCode == 0, $"pool fill: {fill.ExitCode} {fill.Stdout} {fill.Stderr} {PoolLog()}");
        Assert.Contains("1 of 1 vm(s) ready", fill.Stdout, StringComparison.Ordinal);
        // The warm-up container went through the share as a claimant's will (attached in
        // virtiofsd's namespace: the share's top is its bounded tmpfs, not a host directory).
        Assert.Contains("warmed up in", PoolLog(), StringComparison.Ordinal);
    }

    private string PoolLog()
    {
        string log = Path.Combine(fx.StateRoot, ".pool", "pool.log");
        return File.Exists(log) ? File.ReadAllText(log) : "(no pool.log)";
    }

    /// <summary>The pool's rows (name, pid, state) as `pool status` prints them.</summary>
    private async Task<List<string[]>> StatusAsync(string root)
    {
        var status = await Cli(root, "pool", "status");
        Assert.Equal(0, status.ExitCode);
        return [.. status.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).Select(l => l.Split((char[])[' '], 3, StringSplitOptions.RemoveEmptyEntries))];
    }

    [Fact]
    public async Task Containers_take_pooled_vms_one_each_and_drain_leaves_nothing()
    {
        string root = fx.NewRoot();
        string id = "pool-" + Guid.NewGuid().ToString("N")[..8];
        await FillAsync(root);
        string first = Assert.Single(await StatusAsync(root))[0];

        // A foreground container in the pooled VM: its output and status, a network namespace
        // of its own with nothing wired (the pooled VM's), its hostname.
        var run = await Cli(root, "run", "--bundle", fx.Bundle("sh", "-c", "cat /proc/sys/kernel/random/boot_id; ls /sys/class/net | tr '\\n' ' '; echo; hostname; exit 3"), id + "-a");
        Assert.True(run.ExitCode == 3, $"{run.ExitCode}: {run.Stderr} {PoolLog()}");
        string[] lines = run.Stdout.Trim().Split('\n');
        string bootA = lines[0];
        Assert.Equal("lo", lines[1].Trim());
        Assert.Contains($"{first}: claimed by container {id}-a", PoolLog(), StringComparison.Ordinal);
        Assert.DoesNotContain(first, string.Join(' ', (await StatusAsync(root)).Select(r => r[0])));

        // create refilled the pool: a second container takes the new VM, not the first one again.
        await FillAsync(root);
        string b = id + "-b";
        var created = await Cli(root, "create", "--bundle", fx.Bundle("sleep", "600"), b);
        Assert.True(created.ExitCode == 0, created.Stderr);
        try
        {
            string[] row = Assert.Single(await StatusAsync(root), r => r[2] == "claimed by " + b);
            Assert.Equal(0, (await Cli(root, "start", b)).ExitCode);
            var exec = await Cli(root, "exec", b, "cat", "/proc/sys/kernel/random/boot_id");
            Assert.True(exec.ExitCode == 0, exec.Stderr);
            Assert.NotEqual(bootA, exec.Stdout.Trim());
            // The container's pid (its monitor) is in the pooled VM's network namespace, where
            // Docker's hook would wire it; `ps` lists the pooled VM's QEMU as the container's.
            int pid = JsonDocument.Parse((await Cli(root, "state", b)).Stdout).RootElement.GetProperty("pid").GetInt32();
            Assert.Equal(File.ResolveLinkTarget($"/proc/{row[1]}/ns/net", false)!.Name, File.ResolveLinkTarget($"/proc/{pid}/ns/net", false)!.Name);
            int qemu = Assert.Single(TestEnvironment.ProcessesMatching($"vmsandbox-pool-{row[0]},"));
            Assert.Contains($" {qemu} ", " " + string.Join(' ', (await Cli(root, "ps", "--format", "json", b)).Stdout.Split(['[', ']', ','], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim())) + " ", StringComparison.Ordinal);
        }
        finally
        {
            var deleted = await Cli(root, "delete", "--force", b);
            Assert.True(deleted.ExitCode == 0, deleted.Stderr);
        }
        fx.AssertNothingLeft(root, b);

        // Drain ends the replacement create started; nothing of the pool is left.
        var drained = await Cli(root, "pool", "drain");
        Assert.True(drained.ExitCode == 0, drained.Stderr);
        // The pool VMs' processes and their QEMUs and virtiofsds name the pool's directory.
        Assert.Empty(TestEnvironment.ProcessesMatching(Path.Combine(fx.StateRoot, ".pool")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(fx.StateRoot, ".pool")));
        Assert.Empty(await StatusAsync(root));
    }
}
