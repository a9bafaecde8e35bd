using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

public static partial class SeccompCompiler
{
    // struct seccomp_data: int nr @0; u32 arch @4; u64 instruction_pointer @8; u64 args[6] @16.
    internal const uint NrOffset = 0;
    internal const uint ArchOffset = 4;
    internal const uint ArgsOffset = 16;

    private static ArgOp ParseOp(string op, string context) => op switch
    {
        "SCMP_CMP_NE" => ArgOp.NotEqual,
        "SCMP_CMP_LT" => ArgOp.LessThan,
        "SCMP_CMP_LE" => ArgOp.LessOrEqual,
        "SCMP_CMP_EQ" => ArgOp.Equal,
        "SCMP_CMP_GE" => ArgOp.GreaterOrEqual,
        "SCMP_CMP_GT" => ArgOp.GreaterThan,
        "SCMP_CMP_MASKED_EQ" => ArgOp.MaskedEqual,
        _ => throw SeccompActions.Invalid($"{context}: unknown operator \"{op}\""),
    };

    /// <summary>
    /// Emits (back to front) the test of one 64-bit argument: classic BPF loads 32 bits at a
    /// time, so the high half (little-endian: offset + 4) decides first and the low half only
    /// when the high halves are equal, as libseccomp does. Returns the entry of the test.
    /// </summary>
    private static BpfLabel EmitCheck(BpfEmitter e, ArgCheck c, BpfLabel pass, BpfLabel fail)
    {
        uint lo = ArgsOffset + (8 * (uint)c.Index);
        uint hi = lo + 4;
        uint valueHi = (uint)(c.Value >> 32);
        uint valueLo = (uint)c.Value;
        switch (c.Op)
        {
            case ArgOp.Equal:
                return EmitEqual(e, lo, hi, valueHi, valueLo, pass, fail);
            case ArgOp.NotEqual:
                return EmitEqual(e, lo, hi, valueHi, valueLo, fail, pass);
            case ArgOp.GreaterThan:
                return EmitGreater(e, SeccompCalls.BPF_JGT, lo, hi, valueHi, valueLo, pass, fail);
            case ArgOp.GreaterOrEqual:
                return EmitGreater(e, SeccompCalls.BPF_JGE, lo, hi, valueHi, valueLo, pass, fail);
            case ArgOp.LessThan:
                // a < v  <=>  !(a >= v)
                return EmitGreater(e, SeccompCalls.BPF_JGE, lo, hi, valueHi, valueLo, fail, pass);
            case ArgOp.LessOrEqual:
                // a <= v  <=>  !(a > v)
                return EmitGreater(e, SeccompCalls.BPF_JGT, lo, hi, valueHi, valueLo, fail, pass);
            case ArgOp.MaskedEqual:
            default:
                uint maskHi = (uint)(c.Value >> 32);
                uint maskLo = (uint)c.Value;
                uint wantHi = (uint)(c.ValueTwo >> 32);
                uint wantLo = (uint)c.ValueTwo;
                e.EmitJump(SeccompCalls.BPF_JEQ, wantLo, pass, fail);
                e.EmitAnd(maskLo);
                BpfLabel low = e.EmitLoad(lo);
                e.EmitJump(SeccompCalls.BPF_JEQ, wantHi, low, fail);
                e.EmitAnd(maskHi);
                return e.EmitLoad(hi);
        }
    }

    private static BpfLabel EmitEqual(BpfEmitter e, uint lo, uint hi, uint valueHi, uint valueLo, BpfLabel equal, BpfLabel notEqual)
    {
        e.EmitJump(SeccompCalls.BPF_JEQ, valueLo, equal, notEqual);
        BpfLabel low = e.EmitLoad(lo);
        e.EmitJump(SeccompCalls.BPF_JEQ, valueHi, low, notEqual);
        return e.EmitLoad(hi);
    }

    /// <summary>a op v for op BPF_JGT or BPF_JGE, unsigned 64-bit.</summary>
    private static BpfLabel EmitGreater(BpfEmitter e, ushort op, uint lo, uint hi, uint valueHi, uint valueLo, BpfLabel yes, BpfLabel no)
    {
        e.EmitJump(op, valueLo, yes, no);
        BpfLabel low = e.EmitLoad(lo);
        // High halves: greater decides yes, equal defers to the low halves, less decides no.
        BpfLabel highEqual = e.EmitJump(SeccompCalls.BPF_JEQ, valueHi, low, no);
        e.EmitJump(SeccompCalls.BPF_JGT, valueHi, yes, highEqual);
        return e.EmitLoad(hi);
    }
}
