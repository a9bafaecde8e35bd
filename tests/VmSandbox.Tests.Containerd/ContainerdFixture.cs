using VmSandbox.TestSupport.Containerd;
using Xunit;

[assembly: AssemblyFixture(typeof(VmSandbox.Tests.Containerd.ContainerdFixture))]
// One containerd, VMs under TCG on a small machine: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace VmSandbox.Tests.Containerd;

/// <summary>
/// The assembly's one private containerd (<see cref="ContainerdDaemon"/>, shared with the bench),
/// started before the first test and stopped after the last; a CRI call ends with the running
/// test's cancellation (its timeout) as well as its own deadline.
/// </summary>
public sealed class ContainerdFixture : IAsyncLifetime
{
    public ContainerdDaemon Daemon { get; } = new(() => TestContext.Current.CancellationToken);

    public ValueTask InitializeAsync() => Daemon.StartAsync();

    public ValueTask DisposeAsync() => Daemon.DisposeAsync();
}
