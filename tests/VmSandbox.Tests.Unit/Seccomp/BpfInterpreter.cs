using VmSandbox.Interop;
using VmSandbox.Seccomp;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>
/// A classic BPF interpreter for seccomp programs, for tests: validates the program the way the
/// kernel's bpf_check_classic and seccomp_check_filter do for the opcodes a seccomp compiler
/// emits (every jump lands inside the program, loads stay inside seccomp_data and are aligned,
/// the last instruction returns), then runs it and counts the instructions executed.
/// </summary>
internal static class BpfInterpreter
{
    // sizeof(struct seccomp_data)
    private const uint DataSize = 64;

    public static uint Run(SockFilter[] program, SeccompData data) => Run(program, data, out _);

    public static uint Run(SockFilter[] program, SeccompData data, out int executed)
    {
        Validate(program);
        byte[] bytes = data.ToBytes();
        uint a = 0;
        executed = 0;
        for (int pc = 0; ;)
        {
            SockFilter insn = program[pc];
            executed++;
            switch (insn.Code)
            {
                case SeccompCalls.BPF_LD | SeccompCalls.BPF_W | SeccompCalls.BPF_ABS:
                    a = BitConverter.ToUInt32(bytes, (int)insn.K);
                    pc++;
                    break;
                case SeccompCalls.BPF_ALU | SeccompCalls.BPF_AND | SeccompCalls.BPF_K:
                    a &= insn.K;
                    pc++;
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JA:
                    pc += 1 + (int)insn.K;
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JEQ | SeccompCalls.BPF_K:
                    pc += 1 + (a == insn.K ? insn.Jt : insn.Jf);
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JGT | SeccompCalls.BPF_K:
                    pc += 1 + (a > insn.K ? insn.Jt : insn.Jf);
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JGE | SeccompCalls.BPF_K:
                    pc += 1 + (a >= insn.K ? insn.Jt : insn.Jf);
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JSET | SeccompCalls.BPF_K:
                    pc += 1 + ((a & insn.K) != 0 ? insn.Jt : insn.Jf);
                    break;
                case SeccompCalls.BPF_RET | SeccompCalls.BPF_K:
                    return insn.K;
                default:
                    throw new InvalidOperationException($"bpf: unexpected opcode 0x{insn.Code:x2} at {pc}");
            }
        }
    }

    /// <summary>Throws unless <paramref name="program"/> is one the kernel would accept.</summary>
    public static void Validate(SockFilter[] program)
    {
        if (program.Length == 0 || program.Length > SeccompCalls.BPF_MAXINSNS)
        {
            throw new InvalidOperationException($"bpf: program length {program.Length} out of range");
        }
        for (int pc = 0; pc < program.Length; pc++)
        {
            SockFilter insn = program[pc];
            switch (insn.Code)
            {
                case SeccompCalls.BPF_LD | SeccompCalls.BPF_W | SeccompCalls.BPF_ABS:
                    if (insn.K >= DataSize || insn.K % 4 != 0)
                    {
                        throw new InvalidOperationException($"bpf: load offset {insn.K} invalid at {pc}");
                    }
                    break;
                case SeccompCalls.BPF_ALU | SeccompCalls.BPF_AND | SeccompCalls.BPF_K:
                case SeccompCalls.BPF_RET | SeccompCalls.BPF_K:
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JA:
                    if ((long)pc + 1 + insn.K >= program.Length)
                    {
                        throw new InvalidOperationException($"bpf: ja target out of range at {pc}");
                    }
                    break;
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JEQ | SeccompCalls.BPF_K:
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JGT | SeccompCalls.BPF_K:
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JGE | SeccompCalls.BPF_K:
                case SeccompCalls.BPF_JMP | SeccompCalls.BPF_JSET | SeccompCalls.BPF_K:
                    if (pc + 1 + insn.Jt >= program.Length || pc + 1 + insn.Jf >= program.Length)
                    {
                        throw new InvalidOperationException($"bpf: jump target out of range at {pc}");
                    }
                    break;
                default:
                    throw new InvalidOperationException($"bpf: unexpected opcode 0x{insn.Code:x2} at {pc}");
            }
        }
        if (program[^1].Code != (SeccompCalls.BPF_RET | SeccompCalls.BPF_K))
        {
            throw new InvalidOperationException("bpf: program does not end with ret");
        }
    }
}
