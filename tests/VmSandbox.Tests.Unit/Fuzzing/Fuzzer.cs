using System.Diagnostics;
using System.Security.Cryptography;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// Seeded, bounded mutation fuzzing (<see cref="Mutator"/>) of one target at a time: each input
/// is built from its own seed (<see cref="FuzzOptions.InputSeed"/>), handed to the target's body,
/// and judged: it returned (accepted or refused, as the body says), threw a documented error
/// (refused), or broke the contract (a crash: another exception, too slow, too much memory).
/// A crash is printed as base64 and hex and saved under out/fuzz/crashes/TARGET/, and the test
/// fails; it then becomes a regression test with the exact input (FuzzRegressionTests).
/// A body stuck for good would hang the test run: a watchdog saves the input and ends the process.
/// </summary>
internal static class Fuzzer
{
    private const long AsyncAllocationFactor = 16;

    private static readonly TimeSpan s_hang = TimeSpan.FromSeconds(60);

    /// <summary>Fuzzes a synchronous body, which returns true when it accepted the input.</summary>
    public static FuzzReport Run(FuzzTarget target, Func<byte[], bool> body)
    {
        (FuzzOptions options, Mutator mutator, FuzzReport report) = Prepare(target);
        var clock = Stopwatch.StartNew();
        byte[] current = [];
        long index = 0;
        long started = Stopwatch.GetTimestamp();
        using var watchdog = new Timer(_ => Watch(target, Interlocked.Read(ref index), Volatile.Read(ref current), Interlocked.Read(ref started)), null, s_hang / 4, s_hang / 4);
        for (long i = 0; i < options.Iterations && clock.Elapsed < options.Budget; i++)
        {
            byte[] input = mutator.Next(new Random(options.InputSeed(i)));
            Volatile.Write(ref current, input);
            Interlocked.Exchange(ref index, i);
            Interlocked.Exchange(ref started, Stopwatch.GetTimestamp());
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            long t0 = Stopwatch.GetTimestamp();
            string? failure = null;
            try
            {
                if (body(input))
                {
                    report.Accepted++;
                }
                else
                {
                    report.Refused++;
                }
            }
            catch (Exception e) when (target.IsDocumented(e))
            {
                report.Refused++;
            }
            catch (Exception e)
            {
                failure = e.ToString();
            }
            Judge(report, i, input, failure, Stopwatch.GetElapsedTime(t0), GC.GetAllocatedBytesForCurrentThread() - allocatedBefore, target.MaxAllocatedBytes);
        }
        Interlocked.Exchange(ref started, long.MaxValue);
        report.Elapsed = clock.Elapsed;
        return report;
    }

    /// <summary>
    /// Fuzzes an asynchronous body (sockets, streams). Allocation is measured process-wide here,
    /// other tests running meanwhile included, so its bound is <see cref="AsyncAllocationFactor"/>
    /// times the target's: it still catches a length from the input taken as a buffer size. A body that overruns its time is abandoned
    /// (recorded as a crash) and the run stops: what it left running would skew what follows.
    /// </summary>
    public static async Task<FuzzReport> RunAsync(FuzzTarget target, Func<byte[], CancellationToken, Task<bool>> body)
    {
        (FuzzOptions options, Mutator mutator, FuzzReport report) = Prepare(target);
        var clock = Stopwatch.StartNew();
        CancellationToken testToken = TestContext.Current.CancellationToken;
        for (long i = 0; i < options.Iterations && clock.Elapsed < options.Budget; i++)
        {
            byte[] input = mutator.Next(new Random(options.InputSeed(i)));
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            long t0 = Stopwatch.GetTimestamp();
            string? failure = null;
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(testToken);
            limit.CancelAfter(target.PerInputLimit * 2);
            Task<bool> run = Task.Run(() => body(input, limit.Token), CancellationToken.None);
            try
            {
                if (await run.WaitAsync(target.PerInputLimit * 2, testToken))
                {
                    report.Accepted++;
                }
                else
                {
                    report.Refused++;
                }
            }
            catch (TimeoutException)
            {
                failure = $"no answer after {(target.PerInputLimit * 2).TotalSeconds:F0} s (a hang)";
            }
            catch (Exception e) when (target.IsDocumented(e))
            {
                report.Refused++;
            }
            catch (Exception e) when (!testToken.IsCancellationRequested)
            {
                failure = e.ToString();
            }
            long allocated = Math.Max(0, GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore);
            Judge(report, i, input, failure, Stopwatch.GetElapsedTime(t0), allocated, target.MaxAllocatedBytes * AsyncAllocationFactor);
            if (!run.IsCompleted)
            {
                break;
            }
        }
        report.Elapsed = clock.Elapsed;
        return report;
    }

    private static (FuzzOptions, Mutator, FuzzReport) Prepare(FuzzTarget target)
    {
        var options = FuzzOptions.For(target.Name, target.DefaultIterations);
        var seeds = target.Seeds.Concat(CorpusFiles(target.Corpus)).ToList();
        Assert.NotEmpty(seeds);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"fuzz {target.Name}: seed {options.Seed} ({FuzzOptions.SeedVariable}), up to {options.Iterations} inputs or {options.Budget.TotalSeconds:F0} s, {seeds.Count} seeds");
        return (options, new Mutator(seeds, target.Tokens, target.MaxInputLength), new FuzzReport(target, options));
    }

    private static void Judge(FuzzReport report, long index, byte[] input, string? failure, TimeSpan took, long allocated, long allocationLimit)
    {
        report.Tried++;
        report.MaxAllocated = Math.Max(report.MaxAllocated, allocated);
        if (took > report.Slowest)
        {
            report.Slowest = took;
        }
        if (failure is null && took > report.Target.PerInputLimit)
        {
            failure = $"took {took.TotalSeconds:F1} s (limit {report.Target.PerInputLimit.TotalSeconds:F0} s)";
        }
        if (failure is null && allocated > allocationLimit)
        {
            failure = $"allocated {allocated / (1024 * 1024)} MiB (limit {allocationLimit / (1024 * 1024)} MiB): a length read from the input is not bounded";
        }
        if (failure is not null)
        {
            report.AddCrash(new FuzzCrash(index, input, failure, Save(report.Target.Name, input)));
        }
    }

    /// <summary>Seeds kept as files: Fuzzing/Corpus/TARGET/* (copied beside the test assembly).</summary>
    private static IEnumerable<byte[]> CorpusFiles(string? corpus)
    {
        if (corpus is null)
        {
            return [];
        }
        string dir = Path.Combine(AppContext.BaseDirectory, "Fuzzing", "Corpus", corpus);
        Assert.True(Directory.Exists(dir), $"no corpus folder {dir}");
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes) : [];
    }

    private static string CrashFolder(string target) =>
        string.Concat(target.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? char.ToLowerInvariant(c) : '-'));

    private static string? Save(string target, byte[] input)
    {
        try
        {
            string dir = Path.Combine(RepoRoot(), "out", "fuzz", "crashes", CrashFolder(target));
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, Convert.ToHexStringLower(SHA256.HashData(input))[..16] + ".bin");
            File.WriteAllBytes(path, input);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string RepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "VmSandbox.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? Path.GetTempPath();
    }

    private static void Watch(FuzzTarget target, long index, byte[] input, long started)
    {
        if (started == long.MaxValue || Stopwatch.GetElapsedTime(started) < s_hang)
        {
            return;
        }
        string? saved = Save(target.Name, input);
        Console.Error.WriteLine($"fuzz {target.Name}: an input has run for over {s_hang.TotalSeconds:F0} s, ending the test run; " +
            new FuzzCrash(index, input, "hang", saved).Describe(FuzzOptions.For(target.Name, 0).Seed));
        Environment.FailFast($"fuzz {target.Name}: hang");
    }
}
