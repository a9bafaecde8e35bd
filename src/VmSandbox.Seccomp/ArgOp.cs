namespace VmSandbox.Seccomp;

/// <summary>The OCI SCMP_CMP_* operators.</summary>
internal enum ArgOp
{
    NotEqual,
    LessThan,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    GreaterThan,
    MaskedEqual,
}
