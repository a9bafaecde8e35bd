using VmSandbox.TestSupport.Containerd;
using Xunit;

namespace VmSandbox.Tests.Containerd;

/// <summary>containerd's log in a failed test's output.</summary>
public static class ContainerdLog
{
    /// <summary>
    /// Runs <paramref name="test"/>; when it fails, what containerd logged meanwhile goes to the
    /// test's output (a shim's own log lines arrive there too: containerd copies the bundle's log FIFO).
    /// </summary>
    public static async Task WithLogOnFailure(this ContainerdDaemon daemon, Func<Task> test)
    {
        long mark = daemon.LogMark();
        try
        {
            await test();
        }
        catch
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"--- containerd log during the test (last lines of {daemon.LogPath}):\n{daemon.LogSince(mark)}");
            throw;
        }
    }
}
