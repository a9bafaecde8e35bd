namespace VmSandbox.Common;

/// <summary>
/// The one encoding of an error that crosses a process boundary of ours (the sandbox monitor's
/// and exec relay's reports, the monitor's control socket, the agent ↔ container-init channel):
/// the <see cref="ErrorCode"/> name and the one-line message. The ttrpc agent API carries the same
/// pair as a status code (<c>StatusMapping</c>) and message. The receiver rebuilds the exception
/// with <see cref="ToException"/>, so the caller exits as the sender's error says.
/// </summary>
public sealed record WireError
{
    /// <summary>An <see cref="ErrorCode"/> name; an unknown name reads as <see cref="ErrorCode.Internal"/>.</summary>
    public string Code { get; init; } = nameof(ErrorCode.Internal);

    /// <summary>The whole chain on one line (<see cref="VmSandboxException.FormatChain"/>).</summary>
    public string Message { get; init; } = "";

    public static WireError From(Exception e) => new()
    {
        Code = VmSandboxException.CodeOf(e).ToString(),
        Message = VmSandboxException.FormatChain(e),
    };

    public ErrorCode ErrorCode => Enum.TryParse(Code, out ErrorCode code) && Enum.IsDefined(code) ? code : ErrorCode.Internal;

    public VmSandboxException ToException() => new(ErrorCode, Message);
}
