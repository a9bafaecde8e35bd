using VmSandbox.Common;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// One parser under fuzzing: its seeds (in code, plus any files in Corpus/&lt;Name&gt;/), the
/// row it records in docs/reliability.md, and what an input may do: return, or throw one of
/// the documented errors (<see cref="IsDocumented"/>, by default <see cref="VmSandboxException"/>).
/// Anything else thrown, an input that takes longer than <see cref="PerInputLimit"/>, or one that
/// allocates more than <see cref="MaxAllocatedBytes"/> is a crash.
/// </summary>
internal sealed record FuzzTarget(string Name, string Action, string Expected)
{
    public required IReadOnlyList<byte[]> Seeds { get; init; }

    /// <summary>Words of a text format put in place of numbers, words and strings ("null", "[]", …).</summary>
    public IReadOnlyList<string> Tokens { get; init; } = [];

    /// <summary>The folder of seed files under Fuzzing/Corpus/, if the target has one.</summary>
    public string? Corpus { get; init; }

    public int DefaultIterations { get; init; } = 3000;

    public int MaxInputLength { get; init; } = 64 * 1024;

    public TimeSpan PerInputLimit { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lengths read from the input must be bounded: an input may not make the parser allocate more than this.</summary>
    public long MaxAllocatedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Whether the run must have seen both outcomes (some inputs accepted, some refused): a check that the mutations reach past the first check.</summary>
    public bool ExpectBothOutcomes { get; init; } = true;

    public Func<Exception, bool> IsDocumented { get; init; } = e => e is VmSandboxException;
}
