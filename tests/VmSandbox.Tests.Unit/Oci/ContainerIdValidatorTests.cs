using VmSandbox.Common;
using VmSandbox.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

/// <summary>The one container ID rule (host and guest agent).</summary>
public sealed class ContainerIdValidatorTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("3f2a9c")]
    [InlineData("my_container-1.2+x")]
    [InlineData("...")]
    [InlineData(".hidden")]
    [InlineData("A-Z_0-9")]
    public void Accepts_valid_ids(string id)
    {
        ContainerIdValidator.Validate(id);
        Assert.True(ContainerIdValidator.IsValid(id));
    }

    [Fact]
    public void Accepts_the_longest_id() => ContainerIdValidator.Validate(new string('a', ContainerIdValidator.MaxLength));

    [Theory]
    [InlineData("", "is empty")]
    [InlineData(".", "is a relative path component")]
    [InlineData("..", "is a relative path component")]
    [InlineData("a/b", "may contain only letters, digits and _ . + -")]
    [InlineData("../etc", "may contain only letters, digits and _ . + -")]
    [InlineData("a b", "may contain only letters, digits and _ . + -")]
    [InlineData("a\0b", "may contain only letters, digits and _ . + -")]
    [InlineData("a,b", "may contain only letters, digits and _ . + -")]
    [InlineData("a:b", "may contain only letters, digits and _ . + -")]
    [InlineData("é", "may contain only letters, digits and _ . + -")]
    [InlineData("٣", "may contain only letters, digits and _ . + -")] // a non-ASCII digit
    public void Rejects_invalid_ids(string id, string problem)
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => ContainerIdValidator.Validate(id));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal($"invalid id \"{id}\": id {problem}", e.Message);
        Assert.False(ContainerIdValidator.IsValid(id));
    }

    [Theory]
    [InlineData(ContainerIdValidator.MaxLength + 1)]
    [InlineData(1024)] // runc's limit, which the agent used to allow
    [InlineData(4096)]
    public void Rejects_too_long_ids(int length)
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => ContainerIdValidator.Validate(new string('a', length)));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal($"invalid id \"{new string('a', 40)}…\": id is longer than 128 characters", e.Message);
        Assert.False(ContainerIdValidator.IsValid(new string('a', length)));
    }
}
