using VmSandbox.Common;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class ContainerStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vms-store-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void Claim_makes_the_directory_and_refuses_a_second_claim_with_runcs_wording()
    {
        var store = new ContainerStore(_root, _root);
        string dir = store.Claim("c1");
        Assert.True(Directory.Exists(dir));
        var e = Assert.Throws<VmSandboxException>(() => store.Claim("c1"));
        Assert.Equal(ErrorCode.AlreadyExists, e.Code);
        Assert.Equal("container with id exists: c1", e.Message);
    }

    /// <summary>Issue 15: the state root, run directories and state files are the runtime's alone, as runc makes them.</summary>
    [Fact]
    [Trait("Category", "Reliability")]
    public void State_directories_and_files_are_private()
    {
        var store = new ContainerStore(Path.Combine(_root, "state"), Path.Combine(_root, "run"));
        string dir = store.Claim("c1");
        store.SaveSpec("c1", "{}"u8.ToArray());
        store.Save(new ContainerRecord { Id = "c1" });
        store.WriteExit("c1", 3);
        string runDir = store.CreateRunDir("c1");
        const UnixFileMode rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        const UnixFileMode rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(rwx, File.GetUnixFileMode(store.Root));
        Assert.Equal(rwx | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute, File.GetUnixFileMode(dir));
        Assert.Equal(rwx, File.GetUnixFileMode(runDir));
        Assert.Equal(rwx, File.GetUnixFileMode(Path.GetDirectoryName(runDir)!));
        foreach (string file in new[] { ContainerStore.ConfigCopy, ContainerStore.RecordFile, ContainerStore.ExitFile })
        {
            Assert.Equal(rw, File.GetUnixFileMode(Path.Combine(dir, file)));
        }
        Assert.Equal(3, store.ReadExit("c1"));
    }

    [Fact]
    public void Claim_of_an_empty_leftover_directory_is_refused()
    {
        var store = new ContainerStore(_root, _root);
        Directory.CreateDirectory(store.DirOf("c2"));
        Assert.Equal(ErrorCode.AlreadyExists, Assert.Throws<VmSandboxException>(() => store.Claim("c2")).Code);
    }

    /// <summary>
    /// Two creates of one ID at the same moment: exactly one may win. A check-then-create
    /// (Directory.Exists + Directory.CreateDirectory, which succeeds on an existing directory)
    /// lets both through within a few hundred rounds.
    /// </summary>
    [Fact]
    public void Of_two_racing_claims_of_one_id_exactly_one_wins()
    {
        const int Rounds = 2000;
        CancellationToken ct = TestContext.Current.CancellationToken;
        var store = new ContainerStore(_root, _root);
        string? id = null;
        int wins = 0;
        int refusals = 0;
        var otherErrors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var start = new Barrier(3);
        using var done = new Barrier(3);

        void Racer()
        {
            for (int round = 0; round < Rounds; round++)
            {
                start.SignalAndWait(ct);
                try
                {
                    store.Claim(Volatile.Read(ref id)!);
                    Interlocked.Increment(ref wins);
                }
                catch (VmSandboxException e) when (e.Code == ErrorCode.AlreadyExists)
                {
                    Interlocked.Increment(ref refusals);
                }
                catch (Exception e)
                {
                    otherErrors.Enqueue(e);
                }
                done.SignalAndWait(ct);
            }
        }

        var threads = new[] { new Thread(Racer), new Thread(Racer) };
        int badRounds = 0;
        foreach (Thread t in threads)
        {
            t.Start();
        }
        for (int round = 0; round < Rounds; round++)
        {
            Volatile.Write(ref id, $"race-{round}");
            start.SignalAndWait(ct); // releases both racers at once
            done.SignalAndWait(ct);
            if (Interlocked.Exchange(ref wins, 0) != 1 | Interlocked.Exchange(ref refusals, 0) != 1)
            {
                badRounds++;
            }
        }
        foreach (Thread t in threads)
        {
            t.Join();
        }

        Assert.Empty(otherErrors);
        Assert.True(badRounds == 0, $"{badRounds} of {Rounds} rounds did not have exactly one winner");
    }

    /// <summary>
    /// `kill` then `state`: once the monitor recorded the container's exit the state is stopped,
    /// though the monitor still takes the VM down (issue 15: over 5 s under load, runc 0.4 s).
    /// </summary>
    [Theory]
    [InlineData(true, true, "Stopped")]
    [InlineData(true, false, "Running")]
    [InlineData(false, true, "Stopped")]
    [InlineData(false, false, "Stopped")]
    public void A_recorded_exit_is_stopped_while_the_monitor_still_lives(bool monitorAlive, bool exitRecorded, string expected)
    {
        var record = new ContainerRecord { Id = "c1", Bundle = "/b", Rootfs = "/b/rootfs", Created = "now", RunDir = "/r", MonitorPid = 42, MonitorStartTime = 7, Started = true };
        Assert.Equal(expected, ContainerStore.StatusOf(record, (_, _) => monitorAlive, exitRecorded).ToString());
    }
}
