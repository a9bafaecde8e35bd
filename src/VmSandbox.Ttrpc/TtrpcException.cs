using VmSandbox.Common;

namespace VmSandbox.Ttrpc;

/// <summary>
/// A ttrpc call that ended with a non-OK status: the status the peer sent, or one raised
/// locally (DEADLINE_EXCEEDED for a passed deadline, UNAVAILABLE for a lost connection). A
/// handler may throw it to answer with a precise status; the message is all that crosses the
/// wire.
/// </summary>
public sealed class TtrpcException : VmSandboxException
{
    public TtrpcException(StatusCode status, string message, Exception? inner = null)
        : base(StatusMapping.ToErrorCode(status), message, inner)
    {
        Status = status;
    }

    public TtrpcException()
        : this(StatusCode.Unknown, "ttrpc call failed")
    {
    }

    public TtrpcException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    public TtrpcException(string message, Exception inner)
        : this(StatusCode.Unknown, message, inner)
    {
    }

    /// <summary>The gRPC status code of the failure; never <see cref="StatusCode.Ok"/>.</summary>
    public StatusCode Status { get; }
}
