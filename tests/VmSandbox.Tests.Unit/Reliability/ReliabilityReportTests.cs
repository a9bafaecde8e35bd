using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Unit.Reliability;

/// <summary>
/// The rows the fault, escape, load and fuzz tests record and the page rendered from them
/// (docs/reliability.md). Rows go to a temporary VMSANDBOX_RELIABILITY_DIR, never to out/;
/// the variable is process-wide, so these tests run alone (<see cref="ReliabilityLogCollection"/>),
/// after the parallel ones whose rows must not land there.
/// </summary>
[Collection(nameof(ReliabilityLogCollection))]
public sealed class ReliabilityReportTests : IDisposable
{
    private const string Variable = "VMSANDBOX_RELIABILITY_DIR";
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-reliability-").FullName;
    private readonly string? _before = Environment.GetEnvironmentVariable(Variable);

    public ReliabilityReportTests() => Environment.SetEnvironmentVariable(Variable, _dir);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(Variable, _before);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public void Rows_render_per_area_and_a_failing_case_is_marked_failed()
    {
        Assert.True(ReliabilityLog.Record("Faults", "SIGKILL of qemu", "kill -9 qemu", "container exits 137", "exited 137 in 0.4 s", ok: true));
        Assert.False(ReliabilityLog.Record("Fuzzing", "config.json", "mutated configs", "only VmSandboxException", "1 crash", count: 1000, passed: 999));
        Assert.Equal(Path.Combine(_dir, "rows.jsonl"), ReliabilityLog.RowsFile);

        IReadOnlyList<ReliabilityRow> rows = ReliabilityLog.ReadAll();
        Assert.Equal(["SIGKILL of qemu", "config.json"], rows.Select(r => r.Case));
        string page = ReliabilityReport.Render(rows, "abc1234");

        Assert.Contains("commit abc1234", page, StringComparison.Ordinal);
        Assert.Contains("**1 of 2 cases as expected; 1000 of 1001 tries.**", page, StringComparison.Ordinal);
        Assert.Contains("| SIGKILL of qemu | kill -9 qemu | container exits 137 | exited 137 in 0.4 s | 1 | 1 |", page, StringComparison.Ordinal);
        Assert.Contains("| config.json **FAILED** | mutated configs | only VmSandboxException | 1 crash | 1000 | 999 |", page, StringComparison.Ordinal);
        // Sections in the order of ReliabilityLog.Areas; areas without rows are left out.
        Assert.True(page.IndexOf("## Faults", StringComparison.Ordinal) < page.IndexOf("## Fuzzing", StringComparison.Ordinal));
        Assert.DoesNotContain("## Load", page, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public void The_newest_row_of_a_case_wins()
    {
        var old = new ReliabilityRow("Fuzzing", "ttrpc frames", "mutated frames", "no crash", "2 crashes", 10, 8) { At = DateTime.UtcNow.AddMinutes(-5) };
        var fixedRow = new ReliabilityRow("Fuzzing", "ttrpc frames", "mutated frames", "no crash", "no crashes | all ok", 10, 10) { At = DateTime.UtcNow };
        // Order in the file does not matter: the time does.
        string page = ReliabilityReport.Render([fixedRow, old], "c0ffee");
        Assert.Contains("| ttrpc frames | mutated frames | no crash | no crashes \\| all ok | 10 | 10 |", page, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", page, StringComparison.Ordinal);
        Assert.DoesNotContain("2 crashes", page, StringComparison.Ordinal);

        string reversed = ReliabilityReport.Render([fixedRow with { At = old.At.AddMinutes(-1) }, old], "c0ffee");
        Assert.Contains("| ttrpc frames **FAILED** |", reversed, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public void An_unknown_area_throws_and_writes_nothing()
    {
        var e = Assert.Throws<ArgumentException>(() => ReliabilityLog.Record("Fuzz", "x", "a", "b", "c", ok: true));
        Assert.Contains("unknown reliability area 'Fuzz'", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(ReliabilityLog.RowsFile));
        Assert.Empty(ReliabilityLog.ReadAll());
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public void A_case_with_no_tries_is_not_a_pass_and_a_cut_line_is_skipped()
    {
        Assert.False(ReliabilityLog.Record("Load", "20 sandboxes", "start 20", "all run", "none started", count: 0, passed: 0));
        File.AppendAllText(ReliabilityLog.RowsFile, "{\"area\":\"Load\",\"case\":\"cut sh");
        IReadOnlyList<ReliabilityRow> rows = ReliabilityLog.ReadAll();
        Assert.Single(rows);
        Assert.Contains("| 20 sandboxes **FAILED** |", ReliabilityReport.Render(rows, "x"), StringComparison.Ordinal);
        Assert.Contains("No rows recorded yet", ReliabilityReport.Render([], "x"), StringComparison.Ordinal);
    }
}
