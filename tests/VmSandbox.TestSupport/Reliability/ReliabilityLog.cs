using System.Text.Json;
using System.Text.Json.Serialization;

namespace VmSandbox.TestSupport.Reliability;

/// <summary>What one fault, attack, load run or fuzz target tried, what should have happened and what did.</summary>
/// <param name="Area">The section of docs/reliability.md: one of <see cref="ReliabilityLog.Areas"/>.</param>
/// <param name="Case">A short name, unique in its area ("SIGKILL of virtiofsd").</param>
/// <param name="Action">What the test did, in a sentence: the fault, attack or input.</param>
/// <param name="Expected">What should happen.</param>
/// <param name="Observed">What happened, with figures where there are any.</param>
/// <param name="Count">How many times it was tried (fuzz inputs, cycles, sandboxes).</param>
/// <param name="Passed">How many of those ended as expected.</param>
public sealed record ReliabilityRow(
    string Area,
    string Case,
    string Action,
    string Expected,
    string Observed,
    long Count,
    long Passed)
{
    /// <summary>When the row was recorded (UTC); the report keeps the newest row of each case.</summary>
    public DateTime At { get; init; } = DateTime.UtcNow;

    [JsonIgnore]
    public bool Ok => Passed == Count && Count > 0;
}

/// <summary>
/// Where the fault, escape, load and fuzz tests leave their rows for docs/reliability.md
/// (`make test-faults` renders it with `VmSandbox.Bench reliability`). One JSON line per row in
/// out/reliability/rows.jsonl (or $VMSANDBOX_RELIABILITY_DIR), appended with one write so that
/// test processes running at once never interleave a line. Recording never fails a test: the
/// test asserts on its own, after recording what it saw.
/// </summary>
public static class ReliabilityLog
{
    /// <summary>The report's sections, in the order they appear.</summary>
    public static readonly string[] Areas = ["Faults", "Escapes", "Hostile guest", "Load", "Concurrent calls", "Fuzzing", "Bad input"];

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = false,
    };

    public static string Directory =>
        Environment.GetEnvironmentVariable("VMSANDBOX_RELIABILITY_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(TestEnvironment.RepoRoot, "out", "reliability");

    public static string RowsFile => Path.Combine(Directory, "rows.jsonl");

    /// <summary>Records one case tried once; returns <paramref name="ok"/> for the caller's assertion.</summary>
    public static bool Record(string area, string @case, string action, string expected, string observed, bool ok) =>
        Record(new ReliabilityRow(area, @case, action, expected, observed, 1, ok ? 1 : 0)).Ok;

    /// <summary>Records a case tried <paramref name="count"/> times, <paramref name="passed"/> of them as expected.</summary>
    public static bool Record(string area, string @case, string action, string expected, string observed, long count, long passed) =>
        Record(new ReliabilityRow(area, @case, action, expected, observed, count, passed)).Ok;

    public static ReliabilityRow Record(ReliabilityRow row)
    {
        if (!Areas.Contains(row.Area))
        {
            throw new ArgumentException($"unknown reliability area '{row.Area}'; one of {string.Join(", ", Areas)}", nameof(row));
        }
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            byte[] line = JsonSerializer.SerializeToUtf8Bytes(row, s_json);
            using var stream = new FileStream(RowsFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            stream.Write([.. line, (byte)'\n']);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"reliability: row '{row.Case}' not recorded: {e.Message}");
        }
        return row;
    }

    /// <summary>Every row recorded so far, oldest first; a line that does not parse is skipped.</summary>
    public static IReadOnlyList<ReliabilityRow> ReadAll(string? directory = null)
    {
        string file = Path.Combine(directory ?? Directory, "rows.jsonl");
        if (!File.Exists(file))
        {
            return [];
        }
        var rows = new List<ReliabilityRow>();
        foreach (string line in File.ReadLines(file))
        {
            try
            {
                if (JsonSerializer.Deserialize<ReliabilityRow>(line, s_json) is { } row)
                {
                    rows.Add(row);
                }
            }
            catch (JsonException)
            {
                // A line cut short by a killed test run: the next run records the case again.
            }
        }
        return rows;
    }
}
