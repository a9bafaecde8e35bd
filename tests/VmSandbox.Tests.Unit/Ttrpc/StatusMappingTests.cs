using Google.Protobuf;
using VmSandbox.Common;
using VmSandbox.Ttrpc;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

public sealed class StatusMappingTests
{
    [Theory]
    [InlineData(ErrorCode.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(ErrorCode.NotFound, StatusCode.NotFound)]
    [InlineData(ErrorCode.AlreadyExists, StatusCode.AlreadyExists)]
    [InlineData(ErrorCode.FailedPrecondition, StatusCode.FailedPrecondition)]
    [InlineData(ErrorCode.Timeout, StatusCode.DeadlineExceeded)]
    [InlineData(ErrorCode.System, StatusCode.Internal)]
    [InlineData(ErrorCode.Internal, StatusCode.Internal)]
    public void ErrorCodesMapToStatusCodes(ErrorCode error, StatusCode status)
    {
        var (code, message) = StatusMapping.FromException(new VmSandboxException(error, "start container c1"), deadlineExpired: false);

        Assert.Equal(status, code);
        Assert.Equal("start container c1", message);
    }

    [Fact]
    public void CancellationIsDeadlineExceededOnlyWhenTheDeadlinePassed()
    {
        Assert.Equal(StatusCode.DeadlineExceeded, StatusMapping.FromException(new OperationCanceledException(), deadlineExpired: true).Code);
        Assert.Equal(StatusCode.Cancelled, StatusMapping.FromException(new TaskCanceledException(), deadlineExpired: false).Code);
    }

    [Fact]
    public void UnknownExceptionsSendTheirMessageChainOnly()
    {
        var e = new InvalidOperationException("mount rootfs", new IOException("permission denied"));

        var (code, message) = StatusMapping.FromException(e, deadlineExpired: false);

        Assert.Equal(StatusCode.Unknown, code);
        Assert.Equal("mount rootfs: permission denied", message);
    }

    [Fact]
    public void ProtobufDecodeFailureIsInvalidArgument()
    {
        var e = Assert.Throws<InvalidProtocolBufferException>(() => VmSandbox.Ttrpc.Protocol.KeyValue.Parser.ParseFrom([0x0a, 0x05]));

        Assert.Equal(StatusCode.InvalidArgument, StatusMapping.FromException(e, deadlineExpired: false).Code);
    }

    [Theory]
    [InlineData(StatusCode.NotFound, ErrorCode.NotFound)]
    [InlineData(StatusCode.DeadlineExceeded, ErrorCode.Timeout)]
    [InlineData(StatusCode.Unavailable, ErrorCode.Protocol)]
    [InlineData(StatusCode.Unknown, ErrorCode.Internal)]
    public void TtrpcExceptionCarriesTheMatchingErrorCode(StatusCode status, ErrorCode error)
    {
        var e = new TtrpcException(status, "call x");

        Assert.Equal(status, e.Status);
        Assert.Equal(error, e.Code);
    }
}
