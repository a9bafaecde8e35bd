using System.Globalization;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>What a run tried and saw; <see cref="RecordAndAssert"/> writes its reliability row and fails the test on a crash.</summary>
internal sealed class FuzzReport(FuzzTarget target, FuzzOptions options)
{
    private readonly List<FuzzCrash> _crashes = [];

    public FuzzTarget Target { get; } = target;

    public FuzzOptions Options { get; } = options;

    public long Tried { get; set; }

    public long Accepted { get; set; }

    public long Refused { get; set; }

    public long CrashCount { get; private set; }

    public TimeSpan Elapsed { get; set; }

    public long MaxAllocated { get; set; }

    public TimeSpan Slowest { get; set; }

    public IReadOnlyList<FuzzCrash> Crashes => _crashes;

    /// <summary>Keeps the first few crashes whole (all are counted): one bug often breaks many inputs.</summary>
    public void AddCrash(FuzzCrash crash)
    {
        CrashCount++;
        if (_crashes.Count < 5)
        {
            _crashes.Add(crash);
        }
    }

    public string Observed => string.Create(CultureInfo.InvariantCulture,
        $"{Tried} inputs in {Elapsed.TotalSeconds:F1} s (seed {Options.Seed}): {Accepted} accepted, {Refused} refused as documented, {CrashCount} crashes; slowest {Slowest.TotalMilliseconds:F0} ms, most allocated {MaxAllocated / 1024} KiB")
        + (_crashes.Count > 0 ? $"; first: {_crashes[0].What.Split('\n')[0]}" : "");

    /// <summary>Records the row (area "Fuzzing") and asserts that nothing crashed and that the run did real work.</summary>
    public void RecordAndAssert()
    {
        bool ok = ReliabilityLog.Record("Fuzzing", Target.Name, Target.Action, Target.Expected, Observed, Tried, Tried - CrashCount);
        TestContext.Current.TestOutputHelper?.WriteLine($"fuzz {Target.Name}: {Observed}");
        Assert.True(ok && CrashCount == 0,
            $"fuzz {Target.Name}: {Observed}\n" + string.Join("\n", _crashes.Select(c => c.Describe(Options.Seed))));
        Assert.True(Tried >= Math.Min(Options.Iterations, 100), $"fuzz {Target.Name}: only {Tried} inputs tried");
        if (Target.ExpectBothOutcomes)
        {
            Assert.True(Accepted > 0 && Refused > 0, $"fuzz {Target.Name}: mutations reached one outcome only: {Observed}");
        }
    }
}
