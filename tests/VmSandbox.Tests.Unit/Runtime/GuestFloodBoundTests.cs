using System.Text;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// Issue 15: a guest that floods what the host writes for it (the console log, the monitor's
/// log) cannot grow host disk or memory without bound. The console is appended to as QEMU
/// does it (O_APPEND) while the cap cuts it.
/// </summary>
[Trait("Category", "Reliability")]
public sealed class GuestFloodBoundTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flood-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_flooded_console_log_stays_under_its_limit_and_keeps_its_newest_lines()
    {
        string path = Path.Combine(_dir, "console.log");
        const long limit = 64 << 10;
        const int keep = 16 << 10;
        long written = 0;
        long largest = 0;
        int cuts = 0;
        // The guest's writer: O_APPEND, as QEMU's chardev file with append=on.
        using (var guest = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            for (int i = 0; i < 20_000; i++)
            {
                byte[] line = Encoding.ASCII.GetBytes($"flood line {i:D6} {new string('x', 40)}\n");
                guest.Write(line);
                guest.Flush();
                written += line.Length;
                if (i % 100 == 99)
                {
                    cuts += ConsoleLogCap.Trim(path, limit, keep) ? 1 : 0;
                    largest = Math.Max(largest, new FileInfo(path).Length);
                }
            }
        }
        string text = File.ReadAllText(path);
        long size = new FileInfo(path).Length;
        // One check interval's worth of output (100 lines) is all the log may pass the limit by.
        bool ok = largest <= limit + (100 * 60) && cuts > 0 && text.EndsWith("flood line 019999 " + new string('x', 40) + "\n", StringComparison.Ordinal)
            && text.StartsWith(ConsoleLogCap.Marker, StringComparison.Ordinal);
        Assert.True(ReliabilityLog.Record("Hostile guest", "console flood",
            $"guest wrote {written >> 10} KiB to its console (limit {limit >> 10} KiB, checked every 100 lines)",
            "the console log stays within its limit plus one check's output, newest lines kept",
            $"largest {largest >> 10} KiB, now {size >> 10} KiB, {cuts} cuts, last line kept: {text.EndsWith("019999 " + new string('x', 40) + "\n", StringComparison.Ordinal)}", ok),
            $"largest {largest}, cuts {cuts}");
        // The cut starts at a line: after the marker comes a whole line.
        Assert.StartsWith("flood line ", text[ConsoleLogCap.Marker.Length..], StringComparison.Ordinal);
    }

    [Fact]
    public void A_console_log_under_its_limit_is_not_touched()
    {
        string path = Path.Combine(_dir, "console.log");
        File.WriteAllText(path, "boot\n");
        Assert.False(ConsoleLogCap.Trim(path, 1024, 512));
        Assert.False(ConsoleLogCap.Trim(Path.Combine(_dir, "absent.log"), 1024, 512));
        Assert.Equal("boot\n", File.ReadAllText(path));
    }

    [Fact]
    public void The_monitor_log_stops_at_its_limit()
    {
        string path = Path.Combine(_dir, "monitor.log");
        const long limit = 32 << 10;
        Action<string> log = MonitorProcess.LogTo(path, limit);
        for (int i = 0; i < 5_000; i++)
        {
            log($"container c1: OOM-killed in the guest; event {i}");
        }
        long size = new FileInfo(path).Length;
        string last = File.ReadLines(path).Last();
        // The bound: the limit plus one "further lines are dropped" line (under 128 bytes).
        bool ok = size <= limit + 128 && last.EndsWith("further lines are dropped", StringComparison.Ordinal);
        Assert.True(ReliabilityLog.Record("Hostile guest", "monitor log flood",
            "guest caused 5000 logged events (OOM kills) against a 32 KiB log limit",
            "the monitor log stops at its limit (plus one line saying so)",
            $"{size} bytes, last line \"{last[(last.IndexOf(' ', StringComparison.Ordinal) + 1)..]}\"", ok), $"{size} bytes");
    }
}
