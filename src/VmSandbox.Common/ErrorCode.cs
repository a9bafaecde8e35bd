namespace VmSandbox.Common;

/// <summary>
/// Stable error classes. The CLI maps each to an exit code (see <see cref="ExitCodes"/>);
/// the guest agent maps them to ttrpc status codes.
/// </summary>
public enum ErrorCode
{
    /// <summary>Anything not classified below.</summary>
    Internal = 0,
    /// <summary>The caller passed something malformed (flag, ID, size, JSON).</summary>
    InvalidArgument,
    /// <summary>A file, container or resource the caller named does not exist.</summary>
    NotFound,
    /// <summary>The thing the caller wants to create exists already.</summary>
    AlreadyExists,
    /// <summary>The host lacks something the runtime needs (QEMU, kernel, KVM, …).</summary>
    HostMissing,
    /// <summary>The runtime's own configuration is unreadable or invalid.</summary>
    Config,
    /// <summary>A syscall failed.</summary>
    System,
    /// <summary>The VM or one of its helper processes failed.</summary>
    Vm,
    /// <summary>An operation ran past its deadline.</summary>
    Timeout,
    /// <summary>The operation is not valid in the object's current state.</summary>
    FailedPrecondition,
    /// <summary>The peer (guest, QEMU) sent something that breaks the protocol.</summary>
    Protocol,
}
