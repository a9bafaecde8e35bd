namespace VmSandbox.Seccomp;

/// <summary>A validated argument condition: args[Index] Op Value (MaskedEqual: (arg &amp; Value) == ValueTwo).</summary>
internal readonly record struct ArgCheck(int Index, ArgOp Op, ulong Value, ulong ValueTwo);
