using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class SizeParserTests
{
    [Theory]
    [InlineData("256", 256)]
    [InlineData("256M", 256)]
    [InlineData("256MiB", 256)]
    [InlineData("256mb", 256)]
    [InlineData("2G", 2048)]
    [InlineData("2GiB", 2048)]
    [InlineData(" 64M ", 64)]
    [InlineData("1024G", 1024 * 1024)]
    public void Parses_sizes(string text, int mib) => Assert.Equal(mib, SizeParser.ParseMemoryMiB(text, "memory"));

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("63M")]
    [InlineData("0")]
    [InlineData("1025G")]
    [InlineData("1.5G")]
    [InlineData("-256M")]
    [InlineData("256K")]
    [InlineData("99999999999999999999G")]
    [InlineData("9223372036854775807G")]
    public void Rejects_bad_sizes_with_a_hint(string text)
    {
        var e = Assert.Throws<VmSandboxException>(() => SizeParser.ParseMemoryMiB(text, "hypervisor.memory"));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.StartsWith("hypervisor.memory", e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Hint);
    }
}
