using Google.Protobuf;
using VmSandbox.Common;

namespace VmSandbox.Ttrpc;

/// <summary>
/// The one place where exceptions become ttrpc statuses (STYLE.md: the agent maps exceptions
/// to status codes in one place). Only a message crosses the wire, never a stack trace or an
/// exception type name: the peer may be the untrusted side.
/// </summary>
public static class StatusMapping
{
    /// <summary>
    /// The status to answer a call with when its handler threw <paramref name="exception"/>.
    /// <paramref name="deadlineExpired"/> tells a cancellation caused by the call's
    /// timeout_nano apart from one caused by the connection closing.
    /// </summary>
    public static (StatusCode Code, string Message) FromException(Exception exception, bool deadlineExpired)
    {
        return exception switch
        {
            TtrpcException t => (t.Status, VmSandboxException.FormatChain(t)),
            OperationCanceledException when deadlineExpired => (StatusCode.DeadlineExceeded, "deadline exceeded"),
            OperationCanceledException => (StatusCode.Cancelled, "call cancelled"),
            VmSandboxException v => (FromErrorCode(v.Code), VmSandboxException.FormatChain(v)),
            InvalidProtocolBufferException => (StatusCode.InvalidArgument, "decode request: " + exception.Message),
            ArgumentException => (StatusCode.InvalidArgument, VmSandboxException.FormatChain(exception)),
            FileNotFoundException or DirectoryNotFoundException => (StatusCode.NotFound, VmSandboxException.FormatChain(exception)),
            UnauthorizedAccessException => (StatusCode.PermissionDenied, VmSandboxException.FormatChain(exception)),
            NotImplementedException or NotSupportedException => (StatusCode.Unimplemented, VmSandboxException.FormatChain(exception)),
            TimeoutException => (StatusCode.DeadlineExceeded, VmSandboxException.FormatChain(exception)),
            // Go's ttrpc answers any other error with UNKNOWN and err.Error().
            _ => (StatusCode.Unknown, VmSandboxException.FormatChain(exception)),
        };
    }

    /// <summary>The status code for one of the project's error classes.</summary>
    public static StatusCode FromErrorCode(ErrorCode code) => code switch
    {
        ErrorCode.InvalidArgument or ErrorCode.Config or ErrorCode.Protocol => StatusCode.InvalidArgument,
        ErrorCode.NotFound => StatusCode.NotFound,
        ErrorCode.AlreadyExists => StatusCode.AlreadyExists,
        ErrorCode.HostMissing or ErrorCode.FailedPrecondition => StatusCode.FailedPrecondition,
        ErrorCode.Timeout => StatusCode.DeadlineExceeded,
        _ => StatusCode.Internal,
    };

    /// <summary>The project's error class for a status received from a peer.</summary>
    public static ErrorCode ToErrorCode(StatusCode status) => status switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => ErrorCode.InvalidArgument,
        StatusCode.NotFound => ErrorCode.NotFound,
        StatusCode.AlreadyExists => ErrorCode.AlreadyExists,
        StatusCode.FailedPrecondition or StatusCode.Aborted => ErrorCode.FailedPrecondition,
        StatusCode.DeadlineExceeded => ErrorCode.Timeout,
        StatusCode.Unavailable or StatusCode.DataLoss or StatusCode.ResourceExhausted or StatusCode.Unimplemented => ErrorCode.Protocol,
        _ => ErrorCode.Internal,
    };
}
