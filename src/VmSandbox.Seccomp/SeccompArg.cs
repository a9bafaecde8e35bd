namespace VmSandbox.Seccomp;

/// <summary>
/// One argument condition: args[<see cref="Index"/>] <see cref="Op"/> <see cref="Value"/>,
/// compared as unsigned 64-bit numbers. For SCMP_CMP_MASKED_EQ, (arg &amp; Value) == ValueTwo.
/// </summary>
public sealed record SeccompArg
{
    public uint Index { get; init; }

    public ulong Value { get; init; }

    public ulong ValueTwo { get; init; }

    /// <summary>SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ.</summary>
    public required string Op { get; init; }
}
