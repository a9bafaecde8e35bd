using System.Buffers.Binary;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Cgroups;

/// <summary>
/// `linux.resources.devices` as cgroup v2 enforces them: an eBPF program of type
/// BPF_PROG_TYPE_CGROUP_DEVICE, attached to the container's cgroup, that the kernel asks on every
/// open and mknod of a device node. As runc does: the spec's rules, then runc's default allowed
/// devices; later rules win (the program tests them last to first); a rule matches when its type,
/// major and minor match (or are wildcards) and the requested access is within its own; with no
/// match the answer is cgroup v1's starting point, allow.
/// </summary>
public static class DeviceFilter
{
    /// <summary>runc's AllowedDevices (libcontainer/specconv), appended after the spec's rules.</summary>
    public static readonly LinuxResources.DeviceRule[] RuncDefaults =
    [
        new() { Allow = true, Type = "c", Access = "m" },
        new() { Allow = true, Type = "b", Access = "m" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },   // null
        new() { Allow = true, Type = "c", Major = 1, Minor = 8, Access = "rwm" },   // random
        new() { Allow = true, Type = "c", Major = 1, Minor = 7, Access = "rwm" },   // full
        new() { Allow = true, Type = "c", Major = 5, Minor = 0, Access = "rwm" },   // tty
        new() { Allow = true, Type = "c", Major = 1, Minor = 5, Access = "rwm" },   // zero
        new() { Allow = true, Type = "c", Major = 1, Minor = 9, Access = "rwm" },   // urandom
        new() { Allow = true, Type = "c", Major = 136, Access = "rwm" },            // /dev/pts/*
        new() { Allow = true, Type = "c", Major = 5, Minor = 2, Access = "rwm" },   // ptmx
    ];

    // include/uapi/linux/bpf.h: struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
    // access_type = access << 16 | type.
    public const uint TypeBlock = 1;
    public const uint TypeChar = 2;
    public const uint AccessMknod = 1;
    public const uint AccessRead = 2;
    public const uint AccessWrite = 4;

    // The instructions used (struct bpf_insn: code, dst:4|src:4, s16 off, s32 imm).
    private const byte LdxMemW = 0x61;   // BPF_LDX | BPF_MEM | BPF_W
    private const byte Mov32Reg = 0xbc;  // BPF_ALU | BPF_MOV | BPF_X
    private const byte And32Imm = 0x54;  // BPF_ALU | BPF_AND | BPF_K
    private const byte Rsh32Imm = 0x74;  // BPF_ALU | BPF_RSH | BPF_K
    private const byte JneImm = 0x55;    // BPF_JMP | BPF_JNE | BPF_K
    private const byte JneReg = 0x5d;    // BPF_JMP | BPF_JNE | BPF_X
    private const byte Mov64Imm = 0xb7;  // BPF_ALU64 | BPF_MOV | BPF_K
    private const byte Exit = 0x95;      // BPF_JMP | BPF_EXIT

    /// <summary>The rules the container's cgroup enforces: the spec's, then runc's defaults.</summary>
    public static IReadOnlyList<LinuxResources.DeviceRule> Effective(IReadOnlyList<LinuxResources.DeviceRule>? spec) =>
        [.. spec ?? [], .. RuncDefaults];

    /// <summary>The program for <paramref name="rules"/>, 8 bytes an instruction.</summary>
    public static byte[] Compile(IReadOnlyList<LinuxResources.DeviceRule> rules)
    {
        var insns = new List<(byte Code, byte Dst, byte Src, short Off, int Imm)>
        {
            (LdxMemW, 2, 1, 0, 0),   // r2 = ctx->access_type
            (Mov32Reg, 3, 2, 0, 0),  // r3 = r2
            (Rsh32Imm, 3, 0, 0, 16), // r3 = access
            (And32Imm, 2, 0, 0, 0xffff), // r2 = type
            (LdxMemW, 4, 1, 4, 0),   // r4 = major
            (LdxMemW, 5, 1, 8, 0),   // r5 = minor
        };
        bool matchedAll = false;
        for (int i = rules.Count - 1; i >= 0; i--)
        {
            LinuxResources.DeviceRule rule = rules[i];
            uint access = Access(rule.Access);
            var tests = new List<(byte Code, byte Dst, byte Src, short Off, int Imm)>();
            bool any = rule.Type is null or "a";
            if (!any)
            {
                tests.Add((JneImm, 2, 0, 0, (int)(rule.Type == "b" ? TypeBlock : rule.Type == "c" ? TypeChar
                    : throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.resources.devices: invalid type {rule.Type}"))));
            }
            if (access != (AccessMknod | AccessRead | AccessWrite))
            {
                // The request must lie within the rule's access: (r3 & access) != r3 → next rule.
                tests.Add((Mov32Reg, 1, 3, 0, 0));
                tests.Add((And32Imm, 1, 0, 0, (int)access));
                tests.Add((JneReg, 1, 3, 0, 0));
            }
            if (!any && rule.Major is >= 0 and <= uint.MaxValue)
            {
                tests.Add((JneImm, 4, 0, 0, unchecked((int)(uint)rule.Major.Value)));
            }
            if (!any && rule.Minor is >= 0 and <= uint.MaxValue)
            {
                tests.Add((JneImm, 5, 0, 0, unchecked((int)(uint)rule.Minor.Value)));
            }
            // Each test jumps past the rest of the block: the remaining tests, the verdict and exit.
            for (int t = 0; t < tests.Count; t++)
            {
                var (code, dst, src, _, imm) = tests[t];
                bool jump = code is JneImm or JneReg;
                insns.Add((code, dst, src, jump ? (short)(tests.Count - t - 1 + 2) : (short)0, imm));
            }
            insns.Add((Mov64Imm, 0, 0, 0, rule.Allow ? 1 : 0));
            insns.Add((Exit, 0, 0, 0, 0));
            if (tests.Count == 0)
            {
                matchedAll = true; // "a" with every access: earlier rules and the default are never reached
                break;
            }
        }
        if (!matchedAll)
        {
            insns.Add((Mov64Imm, 0, 0, 0, 1));
            insns.Add((Exit, 0, 0, 0, 0));
        }

        byte[] program = new byte[insns.Count * 8];
        for (int i = 0; i < insns.Count; i++)
        {
            var (code, dst, src, off, imm) = insns[i];
            Span<byte> at = program.AsSpan(i * 8, 8);
            at[0] = code;
            at[1] = (byte)((src << 4) | dst);
            BinaryPrimitives.WriteInt16LittleEndian(at[2..], off);
            BinaryPrimitives.WriteInt32LittleEndian(at[4..], imm);
        }
        return program;
    }

    /// <summary>
    /// "rwm" letters as BPF_DEVCG_ACC_* bits; empty or absent means all three. Other letters are
    /// ignored, as runc's device rule normalisation drops them (runc's update.bats deny rule
    /// "rwa" means "rw"); a rule left with no access matches nothing.
    /// </summary>
    public static uint Access(string? letters)
    {
        if (string.IsNullOrEmpty(letters))
        {
            return AccessMknod | AccessRead | AccessWrite;
        }
        uint bits = 0;
        foreach (char c in letters)
        {
            bits |= c switch
            {
                'r' => AccessRead,
                'w' => AccessWrite,
                'm' => AccessMknod,
                _ => 0,
            };
        }
        return bits;
    }
}
