namespace VmSandbox.Seccomp;

/// <summary>One row of syscall_64.tbl.</summary>
internal readonly record struct SyscallEntry(string Name, int Number, SyscallAbi Abi);
