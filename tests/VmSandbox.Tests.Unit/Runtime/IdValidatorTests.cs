using VmSandbox.Common;
using VmSandbox.Runtime;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class IdValidatorTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("3f2a9c")]
    [InlineData("my_container-1.2+x")]
    public void Accepts_valid_ids(string id) => IdValidator.Validate(id);

    [Fact]
    public void Accepts_the_longest_id() => IdValidator.Validate(new string('a', IdValidator.MaxLength));

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("../etc")]
    [InlineData("a b")]
    [InlineData("a\0b")]
    [InlineData("é")]
    public void Rejects_invalid_ids(string id) =>
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<VmSandboxException>(() => IdValidator.Validate(id)).Code);

    [Fact]
    public void Rejects_too_long_ids() =>
        Assert.Throws<VmSandboxException>(() => IdValidator.Validate(new string('a', IdValidator.MaxLength + 1)));
}
