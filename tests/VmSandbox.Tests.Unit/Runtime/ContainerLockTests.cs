using VmSandbox.Common;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>The per-container lock that serializes create, start, pause, resume, update and delete of one container.</summary>
public sealed class ContainerLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vms-lock-").FullName;

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_second_holder_waits_until_the_first_lets_go()
    {
        var first = ContainerLock.Acquire(_dir, "c1", TimeSpan.FromSeconds(5));
        Task<ContainerLock> second = Task.Run(() => ContainerLock.Acquire(_dir, "c1", TimeSpan.FromSeconds(10)), TestContext.Current.CancellationToken);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);
        first.Dispose();
        using ContainerLock got = await second.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void A_held_lock_times_out_with_the_container_named()
    {
        using var held = ContainerLock.Acquire(_dir, "c1", TimeSpan.FromSeconds(5));
        var e = Assert.Throws<VmSandboxException>(() => ContainerLock.Acquire(_dir, "c1", TimeSpan.FromMilliseconds(100)));
        Assert.Equal(ErrorCode.Timeout, e.Code);
        Assert.StartsWith("container c1 is busy", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_container_is_not_found_in_runcs_words()
    {
        var e = Assert.Throws<VmSandboxException>(() => ContainerLock.Acquire(Path.Combine(_dir, "none"), "none", TimeSpan.FromSeconds(1)));
        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Equal("container none does not exist", e.Message);
    }

    /// <summary>A delete removes the directory while holding the lock: the waiter then finds no container, not a dead directory.</summary>
    [Fact]
    public async Task A_waiter_whose_container_was_deleted_finds_it_gone()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "c2")).FullName;
        var deleting = ContainerLock.Acquire(dir, "c2", TimeSpan.FromSeconds(5));
        Task<ContainerLock> waiter = Task.Run(() => ContainerLock.Acquire(dir, "c2", TimeSpan.FromSeconds(10)), TestContext.Current.CancellationToken);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Directory.Delete(dir);
        deleting.Dispose();
        var e = await Assert.ThrowsAsync<VmSandboxException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.NotFound, e.Code);
    }
}
