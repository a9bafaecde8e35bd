using System.Text;
using VmSandbox.Cli.Output;
using VmSandbox.Common;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>Replies that carry numbers or text from the guest, bounded (issue 15, the fuzzing review's leftovers).</summary>
public sealed class BoundedRepliesTests
{
    [Fact]
    public async Task A_message_up_to_the_limit_is_read_whole()
    {
        string text = new('x', 70_000);
        Assert.Equal(text, await BoundedText.ReadToEndAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), "report", CancellationToken.None, maxBytes: 70_000));
        Assert.Equal("", await BoundedText.ReadToEndAsync(new MemoryStream(), "report", CancellationToken.None));
    }

    [Fact]
    public async Task A_message_past_the_limit_is_a_protocol_error_naming_it()
    {
        var e = await Assert.ThrowsAsync<VmSandboxException>(() =>
            BoundedText.ReadToEndAsync(new MemoryStream(new byte[70_001]), "the monitor's report", CancellationToken.None, maxBytes: 70_000));
        Assert.Equal(ErrorCode.Protocol, e.Code);
        Assert.Contains("the monitor's report: more than 70000 bytes", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1u, 1)]
    [InlineData(4242u, 4242)]
    [InlineData(2147483647u, int.MaxValue)]
    public void A_guest_pid_in_range_is_taken(uint pid, int expected) => Assert.Equal(expected, GuestPid.From(pid, "create c"));

    [Theory]
    [InlineData(0u)]
    [InlineData(2147483648u)]
    [InlineData(uint.MaxValue)]
    public void A_guest_pid_out_of_range_never_wraps_to_a_negative_or_zero(uint pid)
    {
        var e = Assert.Throws<VmSandboxException>(() => GuestPid.From(pid, "create c"));
        Assert.Equal(ErrorCode.Protocol, e.Code);
    }

    [Theory]
    [InlineData(0ul, 0ul)]
    [InlineData(1_500ul, 1_500_000ul)]
    [InlineData(ulong.MaxValue / 1000, ulong.MaxValue / 1000 * 1000)]
    [InlineData(ulong.MaxValue / 1000 + 1, ulong.MaxValue)]
    [InlineData(ulong.MaxValue, ulong.MaxValue)]
    public void Cpu_microseconds_become_nanoseconds_and_saturate_instead_of_wrapping(ulong micro, ulong nano) =>
        Assert.Equal(nano, StatsEvent.Nanoseconds(micro));
}
