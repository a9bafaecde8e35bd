using VmSandbox.Runtime;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class PhaseLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-phases-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Marks_from_several_writers_read_back_per_container_in_order_on_one_clock()
    {
        string log = Path.Combine(_dir, "phases.log");
        long before = PhaseLog.Now();
        Parallel.For(0, 8, i =>
        {
            foreach (string phase in PhaseLog.Phases)
            {
                PhaseLog.Mark(log, "c" + i, phase);
            }
        });
        long after = PhaseLog.Now();
        var read = PhaseLog.Read(File.ReadLines(log));
        Assert.Equal(8, read.Count);
        foreach (var (_, marks) in read)
        {
            Assert.Equal(PhaseLog.Phases.Length, marks.Count);
            long[] times = [.. PhaseLog.Phases.Select(p => marks[p])];
            Assert.Equal(times.Order(), times);
            Assert.All(times, t => Assert.InRange(t, before, after));
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(log));
    }

    [Fact]
    public void No_path_writes_nothing_and_an_unwritable_one_is_dropped_quietly()
    {
        PhaseLog.Mark(null, "c", "create");
        PhaseLog.Mark("", "c", "create");
        PhaseLog.Mark(Path.Combine(_dir, "missing", "dir", "phases.log"), "c", "create");
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void Reading_keeps_each_phases_first_time_and_skips_lines_it_cannot_parse()
    {
        var read = PhaseLog.Read(["a create 10", "a create 20", "garbage", "a start x", "b created 5 extra", "a start 30"]);
        Assert.Equal(10, read["a"]["create"]);
        Assert.Equal(30, read["a"]["start"]);
        Assert.False(read.ContainsKey("b"));
    }
}
