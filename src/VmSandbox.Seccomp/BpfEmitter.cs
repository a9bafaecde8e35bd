using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

/// <summary>
/// Builds a classic BPF program from its last instruction to its first, so that every jump
/// target exists when the jump is written (Chromium's and libseccomp's trick). Classic BPF
/// conditional jumps reach at most 255 instructions forward (jt/jf are u8): a target further
/// away gets a trampoline right behind the jump, a copy of the RET for return targets or a
/// BPF_JA (32-bit offset) for others. Indexes are counted from the end of the program.
/// </summary>
internal sealed class BpfEmitter
{
    private const int MaxShortJump = byte.MaxValue;

    private readonly List<SockFilter> _reversed = [];
    private readonly Dictionary<uint, int> _nearestReturn = [];

    /// <summary>Instructions emitted so far.</summary>
    public int Count => _reversed.Count;

    /// <summary>Emits RET <paramref name="action"/>.</summary>
    public BpfLabel EmitReturn(uint action)
    {
        int at = Append(new SockFilter(SeccompCalls.BPF_RET | SeccompCalls.BPF_K, 0, 0, action));
        _nearestReturn[action] = at;
        return BpfLabel.At(at);
    }

    /// <summary>Emits A = seccomp_data[offset] (32-bit), falling through to the last instruction emitted.</summary>
    public BpfLabel EmitLoad(uint offset) =>
        BpfLabel.At(Append(new SockFilter(SeccompCalls.BPF_LD | SeccompCalls.BPF_W | SeccompCalls.BPF_ABS, 0, 0, offset)));

    /// <summary>Emits A &amp;= mask, falling through to the last instruction emitted.</summary>
    public BpfLabel EmitAnd(uint mask) =>
        BpfLabel.At(Append(new SockFilter(SeccompCalls.BPF_ALU | SeccompCalls.BPF_AND | SeccompCalls.BPF_K, 0, 0, mask)));

    /// <summary>Makes the next instruction emitted (which falls through) continue at <paramref name="target"/>.</summary>
    public void FallThroughTo(BpfLabel target)
    {
        if (target.IsReturn)
        {
            EmitReturn(target.Action);
        }
        else if (target.Index != Count - 1)
        {
            Append(new SockFilter(SeccompCalls.BPF_JMP | SeccompCalls.BPF_JA, 0, 0, (uint)(Count - target.Index - 1)));
        }
    }

    /// <summary>
    /// Emits "if (A op k) goto whenTrue else goto whenFalse" for op BPF_JEQ, BPF_JGT, BPF_JGE or
    /// BPF_JSET, with trampolines for targets beyond a u8 offset.
    /// </summary>
    public BpfLabel EmitJump(ushort op, uint k, BpfLabel whenTrue, BpfLabel whenFalse)
    {
        // Decide on trampolines as if both were needed: the jump then lands at most two slots
        // further than assumed, never further, so every short offset computed below fits.
        int worst = Count + 2;
        int t = Reachable(whenTrue, worst) ? -1 : Trampoline(whenTrue);
        int f = Reachable(whenFalse, Count + 1) ? -1 : Trampoline(whenFalse);
        int at = Count;
        byte jt = ShortOffset(at, t >= 0 ? t : Resolve(whenTrue));
        byte jf = ShortOffset(at, f >= 0 ? f : Resolve(whenFalse));
        Append(new SockFilter((ushort)(SeccompCalls.BPF_JMP | op | SeccompCalls.BPF_K), jt, jf, k));
        return BpfLabel.At(at);
    }

    /// <summary>The program in execution order.</summary>
    public SockFilter[] ToProgram()
    {
        var program = new SockFilter[_reversed.Count];
        for (int i = 0; i < program.Length; i++)
        {
            program[i] = _reversed[_reversed.Count - 1 - i];
        }
        return program;
    }

    private int Append(SockFilter insn)
    {
        _reversed.Add(insn);
        return _reversed.Count - 1;
    }

    private bool Reachable(BpfLabel target, int from)
    {
        if (target.IsReturn)
        {
            return _nearestReturn.TryGetValue(target.Action, out int r) && from - r - 1 <= MaxShortJump;
        }
        return from - target.Index - 1 <= MaxShortJump;
    }

    private int Resolve(BpfLabel target) => target.IsReturn ? _nearestReturn[target.Action] : target.Index;

    private int Trampoline(BpfLabel target)
    {
        if (target.IsReturn)
        {
            return EmitReturn(target.Action).Index;
        }
        int at = Count;
        return Append(new SockFilter(SeccompCalls.BPF_JMP | SeccompCalls.BPF_JA, 0, 0, (uint)(at - target.Index - 1)));
    }

    private static byte ShortOffset(int from, int target)
    {
        int offset = from - target - 1;
        if (offset is < 0 or > MaxShortJump)
        {
            throw new InvalidOperationException($"bpf jump offset {offset} out of range");
        }
        return (byte)offset;
    }
}
