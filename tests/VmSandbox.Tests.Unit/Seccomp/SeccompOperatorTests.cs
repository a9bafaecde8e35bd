using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>Each SCMP_CMP_* operator on 64-bit values, checked against C#'s own comparison.</summary>
public sealed class SeccompOperatorTests
{
    private const uint Allow = SeccompCalls.SECCOMP_RET_ALLOW;
    private const uint Deny = SeccompCalls.SECCOMP_RET_ERRNO | 1;

    private static readonly ulong[] s_values =
    [
        0, 1, 7, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000, ulong.MaxValue - 1, ulong.MaxValue,
    ];

    public static TheoryData<string, ulong> Cases()
    {
        var data = new TheoryData<string, ulong>();
        foreach (string op in new[] { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT" })
        {
            foreach (ulong v in s_values)
            {
                data.Add(op, v);
            }
        }
        return data;
    }

    private static SockFilter[] CompileOne(uint index, string op, ulong value, ulong valueTwo = 0) =>
        SeccompCompiler.Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls =
            [
                new LinuxSeccomp.Syscall
                {
                    Names = ["ioctl"],
                    Action = "SCMP_ACT_ALLOW",
                    Args = [new LinuxSeccomp.Arg { Index = index, Op = op, Value = value, ValueTwo = valueTwo }],
                },
            ],
        });

    private static bool Expected(string op, ulong arg, ulong value) => op switch
    {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compares_unsigned_64_bit_at_the_boundaries(string op, ulong value)
    {
        SockFilter[] program = CompileOne(2, op, value);
        var args = new List<ulong> { 0, 1, 0x1_0000_0000, 0xffff_ffff, ulong.MaxValue, value, value - 1, value + 1 };
        // Same low half, other high half, and the reverse: the halves must be compared separately.
        args.Add((value & 0xffff_ffff) | 0x5_0000_0000);
        args.Add(value & 0xffff_ffff_0000_0000);
        foreach (ulong arg in args)
        {
            uint got = BpfInterpreter.Run(program, SeccompData.X86_64(16, 0, 0, arg));
            Assert.True((Expected(op, arg, value) ? Allow : Deny) == got, $"{op} arg=0x{arg:x} value=0x{value:x}");
        }
    }

    [Theory]
    [InlineData(0x7E020000ul, 0ul, 0x11ul, true)]
    [InlineData(0x7E020000ul, 0ul, 0x10000000ul, false)]
    [InlineData(0xff00ul, 0x1200ul, 0x12ab_1234ul, true)]
    [InlineData(0xff00ul, 0x1200ul, 0x12ab_1334ul, false)]
    [InlineData(0xffff_0000_0000_0000ul, 0xabcd_0000_0000_0000ul, 0xabcd_1234_5678_9abcul, true)]
    [InlineData(0xffff_0000_0000_0000ul, 0xabcd_0000_0000_0000ul, 0xabce_1234_5678_9abcul, false)]
    [InlineData(0x1_0000_0001ul, 0x1_0000_0000ul, 0x1_0000_0000ul, true)]
    [InlineData(0x1_0000_0001ul, 0x1_0000_0000ul, 0x1_0000_0001ul, false)]
    [InlineData(0ul, 0ul, ulong.MaxValue, true)]
    [InlineData(0xf0ul, 0x0ful, 0x0ful, false)]   // valueTwo outside the mask never matches
    public void Masked_eq(ulong mask, ulong want, ulong arg, bool allowed)
    {
        SockFilter[] program = CompileOne(5, "SCMP_CMP_MASKED_EQ", mask, want);
        Assert.Equal(allowed ? Allow : Deny, BpfInterpreter.Run(program, SeccompData.X86_64(16, 0, 0, 0, 0, 0, arg)));
    }

    [Fact]
    public void Args_in_one_rule_are_anded_and_rules_are_ored()
    {
        var profile = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls =
            [
                new LinuxSeccomp.Syscall
                {
                    Names = ["mmap"],
                    Action = "SCMP_ACT_ALLOW",
                    Args =
                    [
                        new LinuxSeccomp.Arg { Index = 0, Op = "SCMP_CMP_EQ", Value = 0 },
                        new LinuxSeccomp.Arg { Index = 2, Op = "SCMP_CMP_LE", Value = 3 },
                    ],
                },
                new LinuxSeccomp.Syscall
                {
                    Names = ["mmap"],
                    Action = "SCMP_ACT_ERRNO",
                    ErrnoRet = 22,
                    Args = [new LinuxSeccomp.Arg { Index = 1, Op = "SCMP_CMP_GT", Value = 0x1_0000_0000 }],
                },
                new LinuxSeccomp.Syscall { Names = ["mmap"], Action = "SCMP_ACT_LOG" },
            ],
        };
        SockFilter[] program = SeccompCompiler.Compile(profile);
        uint Run(params ulong[] args) => BpfInterpreter.Run(program, SeccompData.X86_64(9, args));
        Assert.Equal(Allow, Run(0, 0, 3));
        Assert.Equal(Allow, Run(0, 0x2_0000_0000, 1));                 // first rule wins
        Assert.Equal(SeccompCalls.SECCOMP_RET_ERRNO | 22u, Run(0, 0x2_0000_0000, 4));
        Assert.Equal(SeccompCalls.SECCOMP_RET_ERRNO | 22u, Run(1, 0x1_0000_0001, 0));
        Assert.Equal(SeccompCalls.SECCOMP_RET_LOG, Run(1, 0x1_0000_0000, 0));   // no conditional rule matched
        Assert.Equal(SeccompCalls.SECCOMP_RET_LOG, Run(0, 0, 0x1_0000_0000));
        Assert.Equal(Deny, BpfInterpreter.Run(program, SeccompData.X86_64(8)));    // lseek: no rule, below mmap
    }

    [Theory]
    [InlineData(100ul, 0ul, true)]
    [InlineData(9001ul, 0ul, true)]
    [InlineData(0ul, 7ul, true)]      // the condition on another argument is OR-ed as well
    [InlineData(0ul, 0ul, false)]
    [InlineData(101ul, 6ul, false)]
    public void Conditions_on_one_argument_are_ored_as_runc_does(ulong pid, ulong flags, bool allowed)
    {
        // runc's matchCall: a rule testing one argument twice becomes one rule per condition.
        SockFilter[] program = SeccompCompiler.Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls =
            [
                new LinuxSeccomp.Syscall
                {
                    Names = ["process_vm_readv"],
                    Action = "SCMP_ACT_ALLOW",
                    Args =
                    [
                        new LinuxSeccomp.Arg { Index = 0, Op = "SCMP_CMP_EQ", Value = 100 },
                        new LinuxSeccomp.Arg { Index = 0, Op = "SCMP_CMP_EQ", Value = 9001 },
                        new LinuxSeccomp.Arg { Index = 5, Op = "SCMP_CMP_EQ", Value = 7 },
                    ],
                },
            ],
        });
        Assert.Equal(allowed ? Allow : Deny, BpfInterpreter.Run(program, SeccompData.X86_64(310, pid, 0, 0, 0, 0, flags)));
    }
}
