using System.Globalization;
using System.Text;

namespace VmSandbox.TestSupport.Reliability;

/// <summary>
/// Renders docs/reliability.md from the rows the fault, escape, load and fuzz tests recorded
/// (<see cref="ReliabilityLog"/>): one table per area, the newest row of each case, with totals.
/// A case whose newest row failed is shown as failed: the page never hides a red row.
/// </summary>
public static class ReliabilityReport
{
    public static string Render(IReadOnlyList<ReliabilityRow> rows, string commit)
    {
        var newest = rows
            .GroupBy(r => (r.Area, r.Case))
            .Select(g => g.OrderBy(r => r.At).Last())
            .ToList();
        var doc = new StringBuilder();
        doc.AppendLine("# Reliability: faults, attacks, load and bad input").AppendLine();
        doc.AppendLine("Produced by `make test-faults` (the fault, escape, hostile-guest, load, concurrency and fuzz tests record");
        doc.AppendLine("what they tried and saw; tests/VmSandbox.TestSupport/Reliability); do not edit by hand. The threat model");
        doc.AppendLine("these rows test is docs/security.md. Each row is the newest run of one test case: the fault or attack,");
        doc.AppendLine("what should happen, what happened, how many times it was tried and how many of those ended as expected.");
        doc.AppendLine();
        if (newest.Count == 0)
        {
            doc.AppendLine("No rows recorded yet: run `make test-faults`.");
            return doc.ToString();
        }
        DateTime from = newest.Min(r => r.At), to = newest.Max(r => r.At);
        long cases = newest.Count, okCases = newest.Count(r => r.Ok);
        long tried = newest.Sum(r => r.Count), passed = newest.Sum(r => r.Passed);
        doc.AppendLine(CultureInfo.InvariantCulture, $"- recorded: {from:yyyy-MM-dd HH:mm} to {to:yyyy-MM-dd HH:mm} UTC, commit {commit}");
        doc.AppendLine(CultureInfo.InvariantCulture, $"- host: {Environment.ProcessorCount} cpus, {(File.Exists("/dev/kvm") ? "KVM" : "no /dev/kvm (QEMU under TCG)")}");
        doc.AppendLine(CultureInfo.InvariantCulture, $"- **{okCases} of {cases} cases as expected; {passed} of {tried} tries.**");
        doc.AppendLine();
        foreach (string area in ReliabilityLog.Areas)
        {
            var inArea = newest.Where(r => r.Area == area).OrderBy(r => r.Case, StringComparer.Ordinal).ToList();
            if (inArea.Count == 0)
            {
                continue;
            }
            doc.AppendLine(CultureInfo.InvariantCulture, $"## {area}").AppendLine();
            doc.AppendLine("| case | tried | should | happened | tries | passed |");
            doc.AppendLine("|---|---|---|---|---:|---:|");
            foreach (ReliabilityRow r in inArea)
            {
                string mark = r.Ok ? "" : " **FAILED**";
                doc.AppendLine(CultureInfo.InvariantCulture,
                    $"| {Cell(r.Case)}{mark} | {Cell(r.Action)} | {Cell(r.Expected)} | {Cell(r.Observed)} | {r.Count} | {r.Passed} |");
            }
            doc.AppendLine();
        }
        return doc.ToString();
    }

    private static string Cell(string text) =>
        text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal).Replace("\n", "<br>", StringComparison.Ordinal);
}
