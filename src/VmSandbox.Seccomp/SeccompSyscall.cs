namespace VmSandbox.Seccomp;

/// <summary>One OCI syscall rule: these names, when all <see cref="Args"/> match, take <see cref="Action"/>.</summary>
public sealed record SeccompSyscall
{
    public required IReadOnlyList<string> Names { get; init; }

    /// <summary>SCMP_ACT_*.</summary>
    public required string Action { get; init; }

    /// <summary>errno for SCMP_ACT_ERRNO, message for SCMP_ACT_TRACE; EPERM (1) when absent.</summary>
    public uint? ErrnoRet { get; init; }

    /// <summary>
    /// Argument conditions, all of which must hold (AND); when one argument is tested more than
    /// once, any one of them (OR), as runc does.
    /// </summary>
    public IReadOnlyList<SeccompArg> Args { get; init; } = [];
}
