using System.Text.Json.Serialization;

namespace VmSandbox.Oci.Spec;

/// <summary>
/// The seccomp filter (linux.seccomp), in libseccomp's vocabulary (SCMP_ACT_*, SCMP_ARCH_*,
/// SCMP_CMP_*), kept as strings so that the validator and VmSandbox.Seccomp's compiler can name
/// an unknown one. The one seccomp model: the OCI JSON reads into it and the compiler takes it.
/// </summary>
public sealed record LinuxSeccomp
{
    public static readonly IReadOnlyList<string> KnownActions =
    [
        "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
    ];

    public static readonly IReadOnlyList<string> KnownOperators =
    [
        "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
    ];

    /// <summary>runc 1.1's list (libseccomp names); the guest is x86_64, so only the x86 family can match.</summary>
    public static readonly IReadOnlyList<string> KnownArchitectures =
    [
        "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32",
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
    ];

    /// <summary>SCMP_ACT_* taken for syscalls no rule matches.</summary>
    public string DefaultAction { get; set; } = "";

    /// <summary>errno for an SCMP_ACT_ERRNO default action; EPERM (1) when absent, as runc does.</summary>
    public uint? DefaultErrnoRet { get; init; }

    /// <summary>SCMP_ARCH_* names. x86_64 is always allowed (it is the native arch).</summary>
    public IReadOnlyList<string>? Architectures { get; init; }

    /// <summary>SECCOMP_FILTER_FLAG_* names passed to seccomp(2).</summary>
    public IReadOnlyList<string>? Flags { get; init; }

    public string? ListenerPath { get; init; }

    public string? ListenerMetadata { get; init; }

    public IReadOnlyList<Syscall>? Syscalls { get; init; }

    /// <summary>A rule: the action for these syscall names when all args match.</summary>
    public sealed record Syscall
    {
        public IReadOnlyList<string>? Names { get; init; }

        /// <summary>SCMP_ACT_*.</summary>
        public string Action { get; set; } = "";

        /// <summary>errno for SCMP_ACT_ERRNO, message for SCMP_ACT_TRACE; EPERM (1) when absent.</summary>
        public uint? ErrnoRet { get; init; }

        /// <summary>
        /// Argument conditions, all of which must hold (AND); when one argument is tested more than
        /// once, any one of them (OR), as runc does.
        /// </summary>
        public IReadOnlyList<Arg>? Args { get; init; }
    }

    /// <summary>
    /// A comparison of syscall argument <c>index</c> with <c>value</c>, as unsigned 64-bit numbers;
    /// for SCMP_CMP_MASKED_EQ, (arg &amp; value) == valueTwo.
    /// </summary>
    public sealed record Arg
    {
        public uint Index { get; init; }

        public ulong Value { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
        public ulong ValueTwo { get; init; }

        public string Op { get; set; } = "";
    }
}
