using System.Diagnostics;
using System.Globalization;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>The warm pool's decisions and bookkeeping (ADR 0018); the VM suite's WarmPoolTests boot the VMs.</summary>
public sealed class WarmPoolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-pool-").FullName;
    private readonly RuntimeConfig _config;
    private readonly List<string> _log = [];

    public WarmPoolTests()
    {
        string kernel = Path.Combine(_dir, "vmlinuz");
        File.WriteAllText(kernel, "");
        _config = new RuntimeConfig { StateRoot = Path.Combine(_dir, "run"), KernelPath = kernel, PoolSize = 2 };
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RuntimeSpec Spec(string? netnsPath = "", long? memoryLimit = null)
    {
        RuntimeSpec spec = DefaultSpec.Create();
        List<LinuxNamespace> namespaces = [.. spec.Linux!.Namespaces!.Where(n => n.Type != "network")];
        if (netnsPath is not null)
        {
            namespaces.Add(new LinuxNamespace { Type = "network", Path = netnsPath });
        }
        return spec with
        {
            Linux = spec.Linux with
            {
                Namespaces = namespaces,
                Resources = memoryLimit is null ? null : new LinuxResources { Memory = new LinuxResources.MemoryLimits { Limit = memoryLimit } },
            },
        };
    }

    [Fact]
    public void Only_a_container_whose_vm_would_look_like_a_pooled_one_takes_one()
    {
        Assert.Null(WarmPool.Unfit(Spec(), _config));
        Assert.Null(WarmPool.Unfit(Spec(memoryLimit: 64L << 20), _config with { MemoryMiB = 256 }));
        Assert.Contains("off", WarmPool.Unfit(Spec(), _config with { PoolSize = 0 }), StringComparison.Ordinal);
        Assert.Contains("host's network namespace", WarmPool.Unfit(Spec(netnsPath: null), _config), StringComparison.Ordinal);
        Assert.Contains("/var/run/netns/cni-1", WarmPool.Unfit(Spec(netnsPath: "/var/run/netns/cni-1"), _config), StringComparison.Ordinal);
        // 512 MiB + the overhead is more than a pooled VM's 256.
        Assert.Contains("needs 672 MiB", WarmPool.Unfit(Spec(memoryLimit: 512L << 20), _config), StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_guest_image_or_size_is_another_shape()
    {
        string shape = WarmPool.Shape(_config);
        Assert.Equal(shape, WarmPool.Shape(_config));
        Assert.NotEqual(shape, WarmPool.Shape(_config with { MemoryMiB = 512 }));
        Assert.NotEqual(shape, WarmPool.Shape(_config with { KernelParams = "quiet" }));
        File.SetLastWriteTimeUtc(_config.KernelPath, DateTime.UtcNow.AddMinutes(-5));
        Assert.NotEqual(shape, WarmPool.Shape(_config));
    }

    private string PoolDir(string name, int pid = 0, ulong start = 0, string? shape = null, bool ready = false, string? claimed = null)
    {
        string dir = Directory.CreateDirectory(Path.Combine(WarmPool.Root(_config), name)).FullName;
        if (pid > 0)
        {
            File.WriteAllText(Path.Combine(dir, WarmPool.PidFile), string.Create(CultureInfo.InvariantCulture, $"{pid} {start}"));
        }
        File.WriteAllText(Path.Combine(dir, WarmPool.ShapeFile), shape ?? WarmPool.Shape(_config));
        if (ready)
        {
            File.WriteAllText(Path.Combine(dir, MonitorControl.FileName), "");
        }
        if (claimed is not null)
        {
            File.WriteAllText(Path.Combine(dir, WarmPool.ClaimedFile), claimed);
        }
        return dir;
    }

    [Fact]
    public void The_pool_lists_what_each_directory_says()
    {
        int self = Environment.ProcessId;
        ulong start = ProcessProbe.StartTime(self)!.Value;
        PoolDir("a", self, start, ready: true);
        PoolDir("b", self, start, ready: true, claimed: "c1");
        PoolDir("c", self, start);
        List<PoolEntry> entries = WarmPool.List(_config);
        Assert.Equal(["a", "b", "c"], entries.Select(e => e.Name));
        Assert.True(entries[0].Ready && entries[0].Alive);
        Assert.False(entries[1].Ready);
        Assert.Equal("c1", entries[1].Claimed);
        Assert.False(entries[2].Ready); // booting: no control socket yet
        Assert.Empty(WarmPool.List(_config with { StateRoot = Path.Combine(_dir, "none") }));
    }

    [Fact]
    public void Refill_starts_what_is_missing_and_removes_the_dead()
    {
        int self = Environment.ProcessId;
        ulong start = ProcessProbe.StartTime(self)!.Value;
        PoolDir("ready", self, start, ready: true);
        PoolDir("claimed", self, start, ready: true, claimed: "c1");
        string dead = PoolDir("dead", pid: 1, start: 1); // pid 1 never started at tick 1
        var started = new List<string>();
        Assert.Equal(1, WarmPool.Refill(_config, started.Add, _log.Add));
        Assert.Single(started);
        Assert.Equal(WarmPool.Root(_config), Path.GetDirectoryName(started[0]));
        Assert.True(Directory.Exists(started[0]));
        Assert.False(Directory.Exists(dead));
        // The one just started counts as booting: nothing more to start.
        Assert.Equal(0, WarmPool.Refill(_config, started.Add, _log.Add));
    }

    [Fact]
    public void Drain_ends_the_unclaimed_vms_and_leaves_the_claimed()
    {
        using var idle = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        ulong start = ProcessProbe.StartTime(idle.Id)!.Value;
        string pooled = PoolDir("idle", idle.Id, start, ready: true);
        string claimed = PoolDir("claimed", Environment.ProcessId, ProcessProbe.StartTime(Environment.ProcessId)!.Value, claimed: "c1");
        string dead = PoolDir("dead", pid: 1, start: 1);
        Assert.Equal(1, WarmPool.Drain(_config, TimeSpan.FromSeconds(10), _log.Add));
        Assert.True(idle.WaitForExit(10_000));
        Assert.False(Directory.Exists(pooled));
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(claimed));
    }
}
