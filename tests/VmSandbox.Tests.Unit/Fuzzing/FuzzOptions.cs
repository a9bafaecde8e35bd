using System.Globalization;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// How long a fuzz run lasts, from the environment. `make test` sets nothing: each target tries
/// its own bounded number of inputs (a second or two). `make fuzz` sets
/// VMSANDBOX_FUZZ_ITERATIONS (inputs per target) and the time bound grows with it.
/// VMSANDBOX_FUZZ_SECONDS overrides the time bound, VMSANDBOX_FUZZ_SEED the seed (a target's
/// default seed is fixed, so that `make test` always tries the same inputs).
/// </summary>
internal sealed record FuzzOptions(long Iterations, TimeSpan Budget, int Seed)
{
    public const string IterationsVariable = "VMSANDBOX_FUZZ_ITERATIONS";
    public const string SecondsVariable = "VMSANDBOX_FUZZ_SECONDS";
    public const string SeedVariable = "VMSANDBOX_FUZZ_SEED";

    /// <summary>Without VMSANDBOX_FUZZ_SECONDS: the bound of a `make test` run, and of a `make fuzz` run.</summary>
    private static readonly TimeSpan s_boundedBudget = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_longBudget = TimeSpan.FromMinutes(2);

    public bool Long { get; init; }

    public static FuzzOptions For(string target, int defaultIterations)
    {
        long? iterations = Number(IterationsVariable);
        long? seconds = Number(SecondsVariable);
        long? seed = Number(SeedVariable);
        TimeSpan budget = seconds is { } s ? TimeSpan.FromSeconds(s) : iterations is null ? s_boundedBudget : s_longBudget;
        return new FuzzOptions(iterations ?? defaultIterations, budget, seed is { } v ? unchecked((int)v) : StableSeed(target))
        {
            Long = iterations is not null,
        };
    }

    /// <summary>The seed of input <paramref name="index"/>: each input can be rebuilt alone from the run's seed.</summary>
    public int InputSeed(long index) => unchecked((int)Mix(((ulong)(uint)Seed << 32) ^ (ulong)index));

    private static long? Number(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } text
            ? long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) && n > 0
                ? n
                : throw new InvalidOperationException($"{name}={text}: not a positive whole number")
            : null;

    // FNV-1a: string.GetHashCode is randomized per process, a seed must not be.
    private static int StableSeed(string name)
    {
        uint h = 2166136261;
        foreach (char c in name)
        {
            h = (h ^ c) * 16777619;
        }
        return (int)(h & 0x7fff_ffff);
    }

    // splitmix64's finalizer: neighbouring indexes give unrelated seeds.
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
        x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
        return x ^ (x >> 31);
    }
}
