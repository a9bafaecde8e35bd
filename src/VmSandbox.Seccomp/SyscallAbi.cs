namespace VmSandbox.Seccomp;

/// <summary>The ABI column of syscall_64.tbl.</summary>
internal enum SyscallAbi
{
    /// <summary>"common": the same number for x86_64 and x32.</summary>
    Common,
    /// <summary>"64": x86_64 only; x32 uses its own entry in 512-547 or has none.</summary>
    X86_64Only,
    /// <summary>"x32": x32 only, numbered 512-547 (plus the x32 bit at run time).</summary>
    X32Only,
    /// <summary>syscall_32.tbl: i386, a numbering of its own.</summary>
    I386,
}
