namespace VmSandbox.Seccomp;

/// <summary>
/// The seccomp part of an OCI runtime spec (linux.seccomp), with the OCI names kept as strings
/// so that <see cref="SeccompCompiler"/> can reject unknown ones with a clear message. Independent
/// of the runtime's OCI model: the guest agent maps into this.
/// </summary>
public sealed record SeccompProfile
{
    /// <summary>SCMP_ACT_* taken for syscalls no rule matches.</summary>
    public required string DefaultAction { get; init; }

    /// <summary>errno for an SCMP_ACT_ERRNO default action; EPERM (1) when absent, as runc does.</summary>
    public uint? DefaultErrnoRet { get; init; }

    /// <summary>SCMP_ARCH_* names. x86_64 is always allowed (it is the native arch).</summary>
    public IReadOnlyList<string> Architectures { get; init; } = [];

    /// <summary>SECCOMP_FILTER_FLAG_* names passed to seccomp(2).</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    public IReadOnlyList<SeccompSyscall> Syscalls { get; init; } = [];
}
