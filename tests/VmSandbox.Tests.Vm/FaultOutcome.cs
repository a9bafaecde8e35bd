using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// What one fault test saw, fact by fact: each <see cref="Check"/> adds a sentence (marked NOT
/// when it failed), and <see cref="RecordAndAssert"/> records the reliability row before the
/// test asserts, so a failing case still leaves its row.
/// </summary>
internal sealed class FaultOutcome(string @case, string action, string expected)
{
    private readonly List<string> _facts = [];
    private bool _ok = true;

    public bool Ok => _ok;

    /// <summary>Adds <paramref name="fact"/>; false when <paramref name="holds"/> is false.</summary>
    public bool Check(bool holds, string fact)
    {
        _ok &= holds;
        _facts.Add(holds ? fact : "NOT " + fact);
        return holds;
    }

    /// <summary>A fact that is reported but decides nothing.</summary>
    public void Note(string fact) => _facts.Add(fact);

    public override string ToString() => string.Join("; ", _facts);

    public void RecordAndAssert()
    {
        string observed = ToString();
        Assert.True(ReliabilityLog.Record("Faults", @case, action, expected, observed, _ok), observed);
    }
}
