using System.Text;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// The guest's console as the host reads it while a VM boots: the agent's readiness line (its
/// version and boot timings), its fatal line, and the kernel's oops and panic lines, all written
/// by the guest. The host takes only well-formed readiness figures and only printable text into
/// its messages.
/// </summary>
public sealed class ConsoleLineFuzzTests
{
    private const string Transcript = """
        [    0.000000] Linux version 6.1.0-vmsandbox (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC
        [    1.234567] Run /init as init process
        vmsandbox-agent: ready version=0.1.0 started_ms=1720 ready_ms=1910.5 modules=15
        """;

    private const string Crash = """
        [    2.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008
        [    2.000002] RIP: 0010:virtio_fs_probe+0x1a/0x300
        vmsandbox-agent: fatal: mount /proc: ENOENT
        """;

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Console_lines()
    {
        var target = new FuzzTarget("guest console lines (agent readiness, kernel oops)",
            "mutated console transcripts (readiness line with version and timings, fatal line, oops and RIP lines) through AgentReadiness.TryParse, BootTimings, KernelOops and Sanitize",
            "a readiness line is taken only with finite, ordered figures and a version; error text keeps at most 512 printable characters; nothing thrown")
        {
            Seeds = [FuzzSeeds.Utf8(Transcript), FuzzSeeds.Utf8(Crash), FuzzSeeds.Utf8("vmsandbox-agent: ready version=1 started_ms=0 ready_ms=0 modules=0\n")],
            Tokens = ["started_ms=", "ready_ms=", "modules=", "version=", "=", " ", "\n", "\r", "\u001b[2J", "\u0000", "\u2028", "vmsandbox-agent: ready ", "RIP:", "Kernel panic", "[", "]"],
        };
        Fuzzer.Run(target, input =>
        {
            bool ready = false;
            var oops = new AgentReadinessWatcher.KernelOops();
            foreach (string line in Encoding.UTF8.GetString(input).Split('\n'))
            {
                oops.Observe(line);
                CheckPrintable(AgentReadinessWatcher.Sanitize(line));
                if (AgentReadiness.TryParse(line) is { } r)
                {
                    BootTimings t = BootTimings.From(100, 2500, r);
                    if (!double.IsFinite(r.StartedMs) || !double.IsFinite(r.ReadyMs) || r.ReadyMs < r.StartedMs || r.StartedMs < 0 || r.Modules < 0 || r.Version.Length == 0
                        || !double.IsFinite(t.AgentInitMs) || !double.IsFinite(t.FirmwareMs))
                    {
                        throw new InvalidDataException($"readiness line taken with figures it should refuse: {r}");
                    }
                    ready = true;
                }
            }
            if (oops.Describe() is { } described)
            {
                // Two sanitized lines and their quotes.
                Assert.True(described.Length <= 2 * 512 + 10, described);
            }
            return ready;
        }).RecordAndAssert();
    }

    private static void CheckPrintable(string text)
    {
        if (text.Length > 512 || text.Any(char.IsControl))
        {
            throw new InvalidDataException($"sanitized text is {text.Length} chars or holds a control character");
        }
    }
}
