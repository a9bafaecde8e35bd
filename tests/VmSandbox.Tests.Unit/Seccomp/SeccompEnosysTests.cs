using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>
/// runc's -ENOSYS stub: a call numbered past the last syscall the profile names on its arch gets
/// ENOSYS, one at or below it keeps its rules and the default action. Also runc 1.1.5's
/// tests/integration/testdata/seccomp_syscall_test1.json's rules (<see cref="LoadRuncTest1"/>) with
/// the result each check of its C program expects.
/// </summary>
public sealed class SeccompEnosysTests
{
    private const uint Allow = SeccompCalls.SECCOMP_RET_ALLOW;
    private const uint Eperm = SeccompCalls.SECCOMP_RET_ERRNO | 1;
    private const uint Enosys = SeccompCalls.SECCOMP_RET_ERRNO | 38;
    private const uint X32 = SeccompCalls.__X32_SYSCALL_BIT;
    private const ushort Jgt = SeccompCalls.BPF_JMP | SeccompCalls.BPF_JGT | SeccompCalls.BPF_K;

    private static readonly string[] s_allArches = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_X86"];

    /// <summary>read, write and close allowed; openat (the last: 257, x32 257, i386 295) only with flags 0.</summary>
    private static LinuxSeccomp Profile(string defaultAction = "SCMP_ACT_ERRNO", uint? defaultErrno = null, string[]? arches = null) => new()
    {
        DefaultAction = defaultAction,
        DefaultErrnoRet = defaultErrno,
        Architectures = arches ?? s_allArches,
        Syscalls =
        [
            new LinuxSeccomp.Syscall { Names = ["read", "write", "close"], Action = "SCMP_ACT_ALLOW" },
            new LinuxSeccomp.Syscall
            {
                Names = ["openat"],
                Action = "SCMP_ACT_ALLOW",
                Args = [new LinuxSeccomp.Arg { Index = 2, Op = "SCMP_CMP_EQ", Value = 0 }],
            },
        ],
    };

    /// <summary>The arch value and the profile's last (openat) and read numbers as that arch sees them.</summary>
    private static (uint Arch, uint Last, uint Read) ArchOf(string arch) => arch switch
    {
        "x86_64" => (SeccompCalls.AUDIT_ARCH_X86_64, 257, 0),
        "x32" => (SeccompCalls.AUDIT_ARCH_X86_64, X32 | 257, X32 | 0),
        _ => (SeccompCalls.AUDIT_ARCH_I386, 295, 3),
    };

    [Theory]
    [InlineData("x86_64")]
    [InlineData("x32")]
    [InlineData("i386")]
    public void Past_the_last_syscall_gets_enosys_on_each_arch(string arch)
    {
        (uint archValue, uint last, uint read) = ArchOf(arch);
        SockFilter[] program = SeccompCompiler.Compile(Profile());
        uint Run(uint nr, ulong flags = 0) => BpfInterpreter.Run(program, new SeccompData(nr, archValue, [0, 0, flags]));

        Assert.Equal(Enosys, Run(last + 1));
        Assert.Equal(Enosys, Run(last + 200));
        Assert.Equal(Enosys, Run(uint.MaxValue));       // nr -1
        Assert.Equal(Allow, Run(last));                 // the last one keeps its rule...
        Assert.Equal(Eperm, Run(last, flags: 1));       // ...and the default when the rule does not match
        Assert.Equal(Eperm, Run(last - 1));             // below it, no rule: the default
        Assert.Equal(Allow, Run(read));
    }

    [Fact]
    public void Each_arch_has_its_own_last_syscall()
    {
        // pwritev2 is x86_64 328, x32 547 (its own entry), i386 379; mount 165, x32 165, i386 21.
        SockFilter[] program = SeccompCompiler.Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_KILL_PROCESS",
            Architectures = s_allArches,
            Syscalls = [new LinuxSeccomp.Syscall { Names = ["pwritev2", "mount"], Action = "SCMP_ACT_ALLOW" }],
        });
        uint Native(uint nr) => BpfInterpreter.Run(program, SeccompData.X86_64(nr));
        uint I386(uint nr) => BpfInterpreter.Run(program, new SeccompData(nr, SeccompCalls.AUDIT_ARCH_I386, []));

        Assert.Equal(Allow, Native(328));
        Assert.Equal(SeccompCalls.SECCOMP_RET_KILL_PROCESS, Native(327));
        Assert.Equal(Enosys, Native(329));
        Assert.Equal(Allow, Native(X32 | 547));
        Assert.Equal(SeccompCalls.SECCOMP_RET_KILL_PROCESS, Native(X32 | 400));   // past 328, not past 547
        Assert.Equal(Enosys, Native(X32 | 548));
        Assert.Equal(Allow, I386(379));
        Assert.Equal(SeccompCalls.SECCOMP_RET_KILL_PROCESS, I386(378));
        Assert.Equal(Enosys, I386(380));
    }

    [Fact]
    public void An_arch_without_known_names_gets_no_stub()
    {
        // chown32 exists only on i386: x86_64 and x32 have no last syscall, so keep the default.
        SockFilter[] program = SeccompCompiler.Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Architectures = s_allArches,
            Syscalls = [new LinuxSeccomp.Syscall { Names = ["chown32"], Action = "SCMP_ACT_ALLOW" }],
        });
        Assert.Equal(Eperm, BpfInterpreter.Run(program, SeccompData.X86_64(999)));
        Assert.Equal(Eperm, BpfInterpreter.Run(program, SeccompData.X86_64(X32 | 999)));
        Assert.Equal(Allow, BpfInterpreter.Run(program, new SeccompData(212, SeccompCalls.AUDIT_ARCH_I386, [])));
        Assert.Equal(Enosys, BpfInterpreter.Run(program, new SeccompData(213, SeccompCalls.AUDIT_ARCH_I386, [])));
        Assert.Equal(1, program.Count(i => i.Code == Jgt));
    }

    [Fact]
    public void Unlisted_arches_keep_the_bad_arch_action()
    {
        SockFilter[] program = SeccompCompiler.Compile(Profile(arches: ["SCMP_ARCH_X86_64"]));
        Assert.Equal(Enosys, BpfInterpreter.Run(program, SeccompData.X86_64(258)));
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(program, SeccompData.X86_64(X32 | 258)));
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(program, SeccompData.X86_64(uint.MaxValue)));
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(program, new SeccompData(296, SeccompCalls.AUDIT_ARCH_I386, [])));
        // runc tells x32 by bit 30 alone: a number with only bit 31 set is an x86_64 one past the last.
        Assert.Equal(Enosys, BpfInterpreter.Run(program, SeccompData.X86_64(0x8000_0000)));
        Assert.Equal(Enosys, BpfInterpreter.Run(program, SeccompData.X86_64(0xbfff_ffff)));
    }

    [Fact]
    public void Without_the_stub_x32_starts_at_the_x32_bit()
    {
        // libseccomp's check, kept when there is no stub: every nr >= 0x40000000 is x32.
        SockFilter[] program = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", arches: ["SCMP_ARCH_X86_64"]));
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(program, SeccompData.X86_64(0x8000_0000)));
        Assert.Equal(Allow, BpfInterpreter.Run(program, SeccompData.X86_64(0x3fff_ffff)));
    }

    [Theory]
    [InlineData("SCMP_ACT_ERRNO", null, 0x00050001u, true)]
    [InlineData("SCMP_ACT_ERRNO", 6u, 0x00050006u, true)]      // runc's seccomp_syscall_test2: ENXIO
    [InlineData("SCMP_ACT_KILL", null, 0x00000000u, true)]
    [InlineData("SCMP_ACT_KILL_PROCESS", null, 0x80000000u, true)]
    [InlineData("SCMP_ACT_TRAP", null, 0x00030000u, true)]
    [InlineData("SCMP_ACT_ALLOW", null, 0x7fff0000u, false)]
    [InlineData("SCMP_ACT_LOG", null, 0x7ffc0000u, false)]
    [InlineData("SCMP_ACT_TRACE", null, 0x7ff00001u, false)]   // a tracer handles new calls itself
    [InlineData("SCMP_ACT_ERRNO", 38u, 0x00050026u, false)]    // already ENOSYS: the stub adds nothing
    public void Default_action_decides_whether_the_stub_applies(string action, uint? errno, uint defaultRet, bool stub)
    {
        SockFilter[] program = SeccompCompiler.Compile(Profile(action, errno));
        foreach (string arch in new[] { "x86_64", "x32", "i386" })
        {
            (uint archValue, uint last, _) = ArchOf(arch);
            Assert.Equal(stub ? Enosys : defaultRet, BpfInterpreter.Run(program, new SeccompData(last + 1, archValue, [])));
            Assert.Equal(defaultRet, BpfInterpreter.Run(program, new SeccompData(last - 1, archValue, [])));
        }
        // One BPF_JGT per arch (the profile's rules compile to BPF_JEQ only).
        Assert.Equal(stub ? 3 : 0, program.Count(i => i.Code == Jgt));
    }

    /// <summary>
    /// The rules of runc's seccomp_syscall_test1 profile, written out here: the same argument
    /// rules, default action and arches, and an allow list cut down to a few names that keep the
    /// same last syscall per arch (faccessat2 for x86_64 and i386, pwritev2 for x32).
    /// </summary>
    internal static LinuxSeccomp LoadRuncTest1() => SeccompJson.Parse("""
        {
          "defaultAction": "SCMP_ACT_ERRNO",
          "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
          "syscalls": [
            {"action": "SCMP_ACT_ALLOW", "names": ["read", "write", "close", "exit", "exit_group", "rt_sigreturn", "faccessat2", "pwritev2"]},
            {"action": "SCMP_ACT_ALLOW", "names": ["dup3"], "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"action": "SCMP_ACT_ALLOW", "names": ["dup3"], "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_GT"}]},
            {"action": "SCMP_ACT_ALLOW", "names": ["kcmp"], "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 1337, "op": "SCMP_CMP_EQ"}]},
            {"action": "SCMP_ACT_ALLOW", "names": ["process_vm_readv"], "args": [{"index": 0, "value": 100, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 9001, "op": "SCMP_CMP_EQ"}]},
            {"action": "SCMP_ACT_ERRNO", "errnoRet": 55, "names": ["process_vm_writev"], "args": [{"index": 0, "value": 1337, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2020, "op": "SCMP_CMP_EQ"}]},
            {"action": "SCMP_ACT_ALLOW", "names": ["clone"], "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"action": "SCMP_ACT_ALLOW", "names": ["socket"], "args": [{"index": 2, "value": 3840, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
          ]
        }
        """);

    private static readonly Lazy<SockFilter[]> s_runcTest1 = new(() => SeccompCompiler.Compile(LoadRuncTest1()));

    public static TheoryData<string, uint, ulong[], uint> RuncTest1Cases() => new()
    {
        // (the C program's check, x86_64 nr, args, what the filter returns)
        { "write(-1, NULL, 0) == -EBADF", 1, [ulong.MaxValue, 0, 0], Allow },
        { "socket(AF_UNIX, SOCK_STREAM, 0x000) == 3", 41, [1, 1, 0x000], Allow },
        { "socket(AF_UNIX, SOCK_STREAM, 0x0FF) == -EPROTONOSUPPORT", 41, [1, 1, 0x0ff], Allow },
        { "socket(AF_UNIX, SOCK_STREAM, 0x001) == 4", 41, [1, 1, 0x001], Allow },
        { "socket(AF_UNIX, SOCK_STREAM, 0x100) == -EPERM", 41, [1, 1, 0x100], Eperm },
        { "socket(AF_UNIX, SOCK_STREAM, 0xC00) == -EPERM", 41, [1, 1, 0xc00], Eperm },
        { "process_vm_readv(100, ...) == -EINVAL", 310, [100, 0, 0, 0, 0, ulong.MaxValue], Allow },
        { "process_vm_readv(9001, ...) == -EINVAL", 310, [9001, 0, 0, 0, 0, ulong.MaxValue], Allow },
        { "process_vm_readv(0, ...) == -EPERM", 310, [0, 0, 0, 0, 0, ulong.MaxValue], Eperm },
        { "process_vm_writev(1337, ...) == -ENOANO", 311, [1337, 0, 0, 0, 0, ulong.MaxValue], SeccompCalls.SECCOMP_RET_ERRNO | 55 },
        { "process_vm_writev(2020, ...) == -ENOANO", 311, [2020, 0, 0, 0, 0, ulong.MaxValue], SeccompCalls.SECCOMP_RET_ERRNO | 55 },
        { "process_vm_writev(0, ...) == -EPERM", 311, [0, 0, 0, 0, 0, ulong.MaxValue], Eperm },
        { "kcmp(0, 1337, ...) == -ESRCH", 312, [0, 1337, 0, 0, 0], Allow },
        { "kcmp(0, 0, ...) == -EPERM", 312, [0, 0, 0, 0, 0], Eperm },
        { "kcmp(500, 1337, ...) == -EPERM", 312, [500, 1337, 0, 0, 0], Eperm },
        { "kcmp(500, 500, ...) == -EPERM", 312, [500, 500, 0, 0, 0], Eperm },
        { "dup3(0, -100, 0xFFFF) == -EPERM", 292, [0, 0xffff_ff9c, 0xffff], Eperm },
        { "dup3(1, -100, 0xFFFF) == -EINVAL", 292, [1, 0xffff_ff9c, 0xffff], Allow },
        { "dup3(2, -100, 0xFFFF) == -EPERM", 292, [2, 0xffff_ff9c, 0xffff], Eperm },
        { "dup3(3, -100, 0xFFFF) == -EINVAL", 292, [3, 0xffff_ff9c, 0xffff], Allow },
        { "unshare(0) == -EPERM", 272, [0], Eperm },
        { "setns(0, 0) == -EPERM", 308, [0, 0], Eperm },
        { "syscall(1000, ...) == -ENOSYS", 1000, [0xdeadbeef, 0xcafefeed, 0x1337], Enosys },
        // Not in the C program: the edges of its ENOSYS range (faccessat2 is its last).
        { "faccessat2 is allowed", 439, [], Allow },
        { "process_madvise is past faccessat2", 440, [], Enosys },
        { "clone3 is below faccessat2", 435, [], Eperm },
    };

    [Theory]
    [MemberData(nameof(RuncTest1Cases))]
    public void Runc_seccomp_syscall_test1_expectations(string check, uint nr, ulong[] args, uint expected) =>
        Assert.True(expected == BpfInterpreter.Run(s_runcTest1.Value, SeccompData.X86_64(nr, args)), check);

    [Fact]
    public void Runc_seccomp_syscall_test1_on_x32_and_i386()
    {
        SockFilter[] program = s_runcTest1.Value;
        // x32: pwritev2 (547) is the last; i386: faccessat2 (439) too.
        Assert.Equal(Allow, BpfInterpreter.Run(program, SeccompData.X86_64(X32 | 547)));
        Assert.Equal(Enosys, BpfInterpreter.Run(program, SeccompData.X86_64(X32 | 1000)));
        Assert.Equal(Eperm, BpfInterpreter.Run(program, SeccompData.X86_64(X32 | 272)));
        Assert.Equal(Allow, BpfInterpreter.Run(program, new SeccompData(439, SeccompCalls.AUDIT_ARCH_I386, [])));
        Assert.Equal(Enosys, BpfInterpreter.Run(program, new SeccompData(1000, SeccompCalls.AUDIT_ARCH_I386, [])));
        Assert.Equal(Eperm, BpfInterpreter.Run(program, new SeccompData(310, SeccompCalls.AUDIT_ARCH_I386, [])));   // unshare
    }
}
