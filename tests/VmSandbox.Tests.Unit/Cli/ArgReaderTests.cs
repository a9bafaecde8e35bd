using VmSandbox.Cli;
using VmSandbox.Common;
using Xunit;

namespace VmSandbox.Tests.Unit.Cli;

public sealed class ArgReaderTests
{
    [Theory]
    [InlineData("--root", "root", null)]
    [InlineData("-root", "root", null)]
    [InlineData("--root=/x", "root", "/x")]
    [InlineData("-log-format=json", "log-format", "json")]
    [InlineData("--debug=false", "debug", "false")]
    public void Parses_flag_forms(string arg, string name, string? value)
    {
        Assert.True(ArgReader.TryParseFlag(arg, out string n, out string? v));
        Assert.Equal(name, n);
        Assert.Equal(value, v);
    }

    [Theory]
    [InlineData("create")]
    [InlineData("-")]
    [InlineData("--")]
    [InlineData("--=x")]
    public void Positional_arguments_are_not_flags(string arg) => Assert.False(ArgReader.TryParseFlag(arg, out _, out _));

    [Fact]
    public void Takes_values_inline_or_from_the_next_argument()
    {
        var r = new ArgReader(["/a", "x"]);
        Assert.Equal("/inline", r.TakeValue("root", "/inline"));
        Assert.Equal("/a", r.TakeValue("root", null));
        Assert.Equal("x", r.Next());
        Assert.Throws<VmSandboxException>(() => r.TakeValue("root", null));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void Parses_booleans(string? v, bool expected) => Assert.Equal(expected, ArgReader.ParseBool("debug", v));

    [Fact]
    public void Rejects_non_booleans() => Assert.Throws<VmSandboxException>(() => ArgReader.ParseBool("debug", "yes please"));
}
