using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>Actions, flags, bad input, program size and the syscall table.</summary>
public sealed class SeccompCompilerTests
{
    private static LinuxSeccomp Profile(string defaultAction, params LinuxSeccomp.Syscall[] rules) =>
        new() { DefaultAction = defaultAction, Syscalls = rules };

    private static LinuxSeccomp.Syscall Rule(string action, uint? errnoRet = null, params string[] names) =>
        new() { Names = names.Length == 0 ? ["getpid"] : names, Action = action, ErrnoRet = errnoRet };

    [Theory]
    [InlineData("SCMP_ACT_KILL", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_THREAD", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_PROCESS", null, 0x80000000u)]
    [InlineData("SCMP_ACT_TRAP", null, 0x00030000u)]
    [InlineData("SCMP_ACT_ERRNO", null, 0x00050001u)]
    [InlineData("SCMP_ACT_ERRNO", 38u, 0x00050026u)]
    [InlineData("SCMP_ACT_ERRNO", 0x1_0005u, 0x00050005u)]
    [InlineData("SCMP_ACT_TRACE", null, 0x7ff00001u)]
    [InlineData("SCMP_ACT_TRACE", 1234u, 0x7ff004d2u)]
    [InlineData("SCMP_ACT_ALLOW", null, 0x7fff0000u)]
    [InlineData("SCMP_ACT_LOG", null, 0x7ffc0000u)]
    public void Maps_actions_to_seccomp_ret(string action, uint? errnoRet, uint expected)
    {
        SockFilter[] asRule = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule(action, errnoRet)));
        Assert.Equal(expected, BpfInterpreter.Run(asRule, SeccompData.X86_64(39)));
        SockFilter[] asDefault = SeccompCompiler.Compile(new LinuxSeccomp { DefaultAction = action, DefaultErrnoRet = errnoRet });
        Assert.Equal(expected, BpfInterpreter.Run(asDefault, SeccompData.X86_64(39)));
    }

    private static void AssertInvalid(LinuxSeccomp profile, string message)
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => SeccompCompiler.Compile(profile));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Rejects_notify() => AssertInvalid(
        Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_NOTIFY")),
        "compile seccomp profile: syscall rule 0: action SCMP_ACT_NOTIFY is not supported");

    [Fact]
    public void Rejects_unknown_actions()
    {
        AssertInvalid(Profile("SCMP_ACT_NOPE"), "compile seccomp profile: default action: unknown action \"SCMP_ACT_NOPE\"");
        AssertInvalid(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ALLOW"), Rule("allow")),
            "compile seccomp profile: syscall rule 1: unknown action \"allow\"");
    }

    [Fact]
    public void Rejects_errno_ret_on_other_actions() => AssertInvalid(
        Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", 5)),
        "compile seccomp profile: syscall rule 0: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW");

    [Fact]
    public void Rejects_unknown_operators() => AssertInvalid(
        Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW") with { Args = [new LinuxSeccomp.Arg { Index = 0, Op = "SCMP_CMP_XX" }] }),
        "compile seccomp profile: syscall rule 0: unknown operator \"SCMP_CMP_XX\"");

    [Fact]
    public void Rejects_arg_index_past_5() => AssertInvalid(
        Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW") with { Args = [new LinuxSeccomp.Arg { Index = 6, Op = "SCMP_CMP_EQ" }] }),
        "compile seccomp profile: syscall rule 0: argument index 6 out of range 0-5");

    [Fact]
    public void Rejects_empty_names() => AssertInvalid(
        Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW") with { Names = [] }),
        "compile seccomp profile: syscall rule 0: no syscall names");

    [Fact]
    public void Rejects_unknown_arches_and_flags()
    {
        AssertInvalid(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Architectures = ["SCMP_ARCH_VAX"] },
            "compile seccomp profile: unknown architecture \"SCMP_ARCH_VAX\"");
        AssertInvalid(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Flags = ["SECCOMP_FILTER_FLAG_NEW_LISTENER"] },
            "compile seccomp profile: flag SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported");
        AssertInvalid(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Flags = ["TSYNC"] },
            "compile seccomp profile: unknown flag \"TSYNC\"");
    }

    [Fact]
    public void Parses_flags()
    {
        Assert.Equal(SeccompFilterFlags.Tsync | SeccompFilterFlags.Log | SeccompFilterFlags.SpecAllow,
            SeccompCompiler.ParseFlags(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]));
        Assert.Equal(SeccompFilterFlags.None, SeccompCompiler.ParseFlags([]));
    }

    [Fact]
    public void Skips_names_unknown_on_x86_64()
    {
        SockFilter[] program = SeccompCompiler.Compile(
            Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", null, "chown32", "no_such_call", "getpid")));
        Assert.Equal(SeccompCalls.SECCOMP_RET_ALLOW, BpfInterpreter.Run(program, SeccompData.X86_64(39)));
    }

    [Fact]
    public void Empty_profile_is_arch_check_and_default()
    {
        SockFilter[] program = SeccompCompiler.Compile(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW" });
        BpfInterpreter.Validate(program);
        Assert.True(program.Length <= 8, $"{program.Length} instructions");
        Assert.Equal(SeccompCalls.SECCOMP_RET_ALLOW, BpfInterpreter.Run(program, SeccompData.X86_64(1)));
    }

    [Fact]
    public void Many_rules_with_args_need_long_jumps_and_stay_valid()
    {
        // 600 rules on 300 syscalls, each 64-bit EQ (6 insns): blocks span far more than 255
        // instructions, so tree jumps and fall-through chains need trampolines.
        var rules = new List<LinuxSeccomp.Syscall>();
        var names = SyscallTable.Entries.Where(e => e.Abi != SyscallAbi.X32Only).Take(300).ToArray();
        for (int i = 0; i < 600; i++)
        {
            rules.Add(new LinuxSeccomp.Syscall
            {
                Names = [names[i % 300].Name],
                Action = "SCMP_ACT_ERRNO",
                ErrnoRet = (uint)((i % 7) + 1),
                Args = [new LinuxSeccomp.Arg { Index = (uint)(i % 6), Op = "SCMP_CMP_EQ", Value = (ulong)i << 20 }],
            });
        }
        SockFilter[] program = SeccompCompiler.Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            Syscalls = rules,
        });
        BpfInterpreter.Validate(program);
        Assert.True(program.Length > 2048, $"{program.Length} instructions");
        Assert.Contains(program, i => i.Code == (SeccompCalls.BPF_JMP | SeccompCalls.BPF_JA));
        for (int i = 0; i < 600; i++)
        {
            var args = new ulong[6];
            args[i % 6] = (ulong)i << 20;
            int nr = names[i % 300].Number;
            Assert.Equal(SeccompCalls.SECCOMP_RET_ERRNO | (uint)((i % 7) + 1), BpfInterpreter.Run(program, SeccompData.X86_64((uint)nr, args)));
            args[i % 6] = ((ulong)i << 20) | 0x1_0000_0000;
            Assert.Equal(SeccompCalls.SECCOMP_RET_ALLOW, BpfInterpreter.Run(program, SeccompData.X86_64((uint)nr, args)));
        }
    }

    [Fact]
    public void Too_big_a_program_is_an_error()
    {
        var rules = Enumerable.Range(0, 1100).Select(i => new LinuxSeccomp.Syscall
        {
            Names = ["ioctl"],
            Action = "SCMP_ACT_ALLOW",
            Args = [new LinuxSeccomp.Arg { Index = 1, Op = "SCMP_CMP_EQ", Value = (ulong)i }],
        }).ToArray();
        VmSandboxException e = Assert.Throws<VmSandboxException>(
            () => SeccompCompiler.Compile(new LinuxSeccomp { DefaultAction = "SCMP_ACT_ERRNO", Syscalls = rules }));
        Assert.StartsWith("compile seccomp profile: program has ", e.Message);
        Assert.EndsWith("instructions, more than the kernel's limit of 4096", e.Message);
    }

    [Theory]
    [InlineData("read", 0)]
    [InlineData("personality", 135)]
    [InlineData("seccomp", 317)]
    [InlineData("rseq", 334)]
    [InlineData("pidfd_send_signal", 424)]
    [InlineData("clone3", 435)]
    [InlineData("set_mempolicy_home_node", 450)]
    public void Syscall_table_numbers(string name, int nr)
    {
        Assert.True(SyscallTable.TryGetNative(name, out int got));
        Assert.Equal(nr, got);
    }

    [Fact]
    public void Syscall_table_is_complete_and_unique()
    {
        int[] native = SyscallTable.Entries.Where(e => e.Abi != SyscallAbi.X32Only).Select(e => e.Number).ToArray();
        Assert.Equal(Enumerable.Range(0, 335).Concat(Enumerable.Range(424, 27)), native);
        Assert.Equal(native.Length, SyscallTable.Entries.Where(e => e.Abi != SyscallAbi.X32Only).Select(e => e.Name).Distinct().Count());
        Assert.Equal(Enumerable.Range(512, 36), SyscallTable.Entries.Where(e => e.Abi == SyscallAbi.X32Only).Select(e => e.Number));
        Assert.True(SyscallTable.TryGetX32("ioctl", out uint ioctl));
        Assert.Equal(0x40000000u | 514, ioctl);
        Assert.False(SyscallTable.TryGetX32("uselib", out _));
    }

    [Theory]
    [InlineData("restart_syscall", 0)]
    [InlineData("read", 3)]
    [InlineData("socketcall", 102)]
    [InlineData("clone", 120)]
    [InlineData("personality", 136)]
    [InlineData("chown32", 212)]
    [InlineData("fcntl64", 221)]
    [InlineData("gettid", 224)]
    [InlineData("exit_group", 252)]
    [InlineData("rseq", 386)]
    [InlineData("semget", 393)]
    [InlineData("sched_rr_get_interval_time64", 423)]
    [InlineData("set_mempolicy_home_node", 450)]
    public void I386_table_numbers(string name, int nr)
    {
        Assert.True(SyscallTable.TryGetI386(name, out int got));
        Assert.Equal(nr, got);
    }

    [Fact]
    public void I386_table_is_complete_and_unique()
    {
        int[] holes = [222, 223, 251, 285, 387, 388, 389, 390, 391, 392, 415];
        Assert.Equal(Enumerable.Range(0, 451).Except(holes), SyscallTable.I386Entries.Select(e => e.Number));
        Assert.Equal(SyscallTable.I386Entries.Count, SyscallTable.I386Entries.Select(e => e.Name).Distinct().Count());
        Assert.False(SyscallTable.TryGetI386("arch_prctl_nope", out _));
        Assert.False(SyscallTable.TryGetNative("chown32", out _));
    }

    [Fact]
    public unsafe void Sock_filter_matches_the_kernel_layout()
    {
        // linux/filter.h: code u16 @0, jt u8 @2, jf u8 @3, k u32 @4; sock_fprog is 16 bytes on LP64.
        Assert.Equal(8, sizeof(SeccompCalls.sock_filter));
        Assert.Equal(8, sizeof(SockFilter));
        Assert.Equal(16, sizeof(SeccompCalls.sock_fprog));
        Assert.Equal(4, (int)System.Runtime.InteropServices.Marshal.OffsetOf<SeccompCalls.sock_filter>(nameof(SeccompCalls.sock_filter.k)));
        SockFilter f = new(0x15, 1, 2, 0xc000003e);
        SeccompCalls.sock_filter raw = System.Runtime.InteropServices.MemoryMarshal.Cast<SockFilter, SeccompCalls.sock_filter>([f])[0];
        Assert.Equal((0x15, 1, 2, 0xc000003eu), (raw.code, raw.jt, raw.jf, raw.k));
    }

    [Fact]
    public void A_profile_without_default_action_is_an_invalid_argument()
    {
        // The OCI reader leaves an absent defaultAction empty; the compiler names it.
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => SeccompCompiler.Compile(SeccompJson.Parse("{\"syscalls\": []}")));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal("compile seccomp profile: default action: unknown action \"\"", e.Message);
    }

    [Fact]
    public void Absent_lists_compile_as_empty_ones()
    {
        LinuxSeccomp bare = SeccompJson.Parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}");
        Assert.Null(bare.Architectures);
        Assert.Null(bare.Flags);
        Assert.Null(bare.Syscalls![0].Args);
        LinuxSeccomp empty = bare with { Architectures = [], Flags = [], Syscalls = [new LinuxSeccomp.Syscall { Names = ["read"], Action = "SCMP_ACT_ALLOW", Args = [] }] };
        Assert.Equal(SeccompCompiler.Compile(empty), SeccompCompiler.Compile(bare));
        Assert.Equal(SeccompFilterFlags.None, SeccompCompiler.ParseFlags(bare.Flags));
    }
}
