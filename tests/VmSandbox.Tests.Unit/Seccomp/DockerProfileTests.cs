using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>
/// Docker's default profile (docker-default.json: the linux.seccomp Docker sends for a container
/// with the default capabilities on x86_64, its archMap entry for x86_64 turned into
/// "architectures" as Docker does) read with the OCI reader, compiled and run through
/// <see cref="BpfInterpreter"/>.
/// </summary>
public sealed class DockerProfileTests
{
    private const uint Allow = SeccompCalls.SECCOMP_RET_ALLOW;
    private const uint Eperm = SeccompCalls.SECCOMP_RET_ERRNO | 1;
    private const uint Enosys = SeccompCompiler.EnosysAction;
    private const uint X32 = SeccompCalls.__X32_SYSCALL_BIT;

    private static readonly Lazy<SockFilter[]> s_program = new(() => SeccompCompiler.Compile(Load()));

    internal static LinuxSeccomp Load() =>
        SeccompJson.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Seccomp", "docker-default.json")));

    private static uint Run(uint nr, params ulong[] args) => BpfInterpreter.Run(s_program.Value, SeccompData.X86_64(nr, args));

    [Fact]
    public void Profile_parses_with_the_x86_arches()
    {
        LinuxSeccomp p = Load();
        Assert.Equal("SCMP_ACT_ERRNO", p.DefaultAction);
        Assert.Equal(1u, p.DefaultErrnoRet);
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], p.Architectures);
        Assert.True(p.Syscalls![0].Names!.Count > 300);
    }

    [Fact]
    public void Compiles_under_the_kernel_limit()
    {
        SockFilter[] program = s_program.Value;
        BpfInterpreter.Validate(program);
        TestContext.Current.TestOutputHelper?.WriteLine($"docker default profile: {program.Length} instructions");
        Assert.InRange(program.Length, 100, 2048);
    }

    [Theory]
    [InlineData(0u)]        // read
    [InlineData(1u)]        // write
    [InlineData(231u)]      // exit_group
    [InlineData(59u)]       // execve
    [InlineData(202u)]      // futex
    [InlineData(449u)]      // futex_waitv
    [InlineData(158u)]      // arch_prctl
    [InlineData(161u)]      // chroot (CAP_SYS_CHROOT is a default capability)
    public void Allows_common_calls(uint nr) => Assert.Equal(Allow, Run(nr));

    [Theory]
    [InlineData(165u)]   // mount
    [InlineData(169u)]   // reboot
    [InlineData(246u)]   // kexec_load
    [InlineData(175u)]   // init_module
    [InlineData(272u)]   // unshare
    [InlineData(321u)]   // bpf
    [InlineData(335u)]   // hole in the table
    public void Denies_other_calls_with_eperm(uint nr) => Assert.Equal(Eperm, Run(nr));

    [Theory]
    [InlineData(450u)]          // set_mempolicy_home_node: newer than the profile's futex_waitv (449)
    [InlineData(451u)]
    [InlineData(999u)]          // not a syscall
    [InlineData(0x3fff_ffffu)]
    [InlineData(0x8000_0000u)]  // x32 bit clear: the x86_64 side, as runc's stub tests the bit alone
    public void Calls_past_the_last_one_named_get_enosys(uint nr) => Assert.Equal(Enosys, Run(nr));

    [Fact]
    public void Bounded_search_depth()
    {
        int worst = 0;
        for (uint nr = 0; nr < 600; nr++)
        {
            _ = BpfInterpreter.Run(s_program.Value, SeccompData.X86_64(nr, 0x1234), out int executed);
            worst = Math.Max(worst, executed);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"docker default profile: at most {worst} instructions per call");
        Assert.InRange(worst, 3, 40);   // personality: tree, then 5 rules of 4
    }

    [Theory]
    [InlineData(0ul, true)]
    [InlineData(8ul, true)]
    [InlineData(131072ul, true)]
    [InlineData(131080ul, true)]
    [InlineData(4294967295ul, true)]
    [InlineData(0x1234ul, false)]
    [InlineData(0x1_0000_0000ul, false)]      // low half 0 matches, high half does not
    [InlineData(0xffff_ffff_0000_0008ul, false)]
    public void Personality_only_with_listed_personas(ulong persona, bool allowed) =>
        Assert.Equal(allowed ? Allow : Eperm, Run(135, persona));

    [Theory]
    [InlineData(0x11ul, true)]                // SIGCHLD
    [InlineData(0x3d0f00ul, true)]            // pthread_create's flags
    [InlineData(0x10000000ul, false)]         // CLONE_NEWUSER
    [InlineData(0x00020000ul, false)]         // CLONE_NEWNS
    [InlineData(0x40000000ul, false)]         // CLONE_NEWNET
    [InlineData(0x1_0000_0011ul, true)]       // high bits are outside the mask
    public void Clone_without_namespace_flags(ulong flags, bool allowed) =>
        Assert.Equal(allowed ? Allow : Eperm, Run(56, flags));

    [Fact]
    public void Clone3_gets_enosys_so_libc_falls_back_to_clone() =>
        Assert.Equal(SeccompCalls.SECCOMP_RET_ERRNO | 38u, Run(435));

    [Theory]
    [InlineData(1ul, true)]     // AF_UNIX
    [InlineData(2ul, true)]     // AF_INET
    [InlineData(40ul, false)]   // AF_VSOCK
    [InlineData(0x1_0000_0028ul, true)]
    public void Socket_except_vsock(ulong family, bool allowed) =>
        Assert.Equal(allowed ? Allow : Eperm, Run(41, family));

    [Theory]
    [InlineData(X32 | 0u, Allow)]        // read
    [InlineData(X32 | 231u, Allow)]      // exit_group
    [InlineData(X32 | 512u, Allow)]      // x32 rt_sigaction
    [InlineData(X32 | 13u, Eperm)]       // x86_64-only rt_sigaction number: not an x32 call
    [InlineData(X32 | 165u, Eperm)]      // mount
    [InlineData(X32 | 548u, Enosys)]     // past pwritev2, the last x32 number the profile names
    [InlineData(X32 | 600u, Enosys)]
    [InlineData(X32 | 450u, Eperm)]      // a hole below 512: not past the last x32 number
    [InlineData(0xffff_ffffu, Enosys)]   // nr -1 falls in the x32 range, past its last number
    public void X32_calls_use_the_x32_numbers(uint nr, uint expected) => Assert.Equal(expected, Run(nr));

    [Fact]
    public void X32_argument_rules_apply_too()
    {
        Assert.Equal(Allow, Run(X32 | 135, 8));
        Assert.Equal(Eperm, Run(X32 | 135, 0x1234));
    }

    [Theory]
    [InlineData(0xc00000b7u)]   // AUDIT_ARCH_AARCH64: listed in the archMap, never native here
    [InlineData(0x40000028u)]   // AUDIT_ARCH_ARM
    [InlineData(0xdeadbeefu)]
    public void Other_arches_are_killed(uint arch) =>
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(s_program.Value, new SeccompData(3, arch, [])));

    private static uint RunI386(uint nr, params ulong[] args) =>
        BpfInterpreter.Run(s_program.Value, new SeccompData(nr, SeccompCalls.AUDIT_ARCH_I386, args));

    [Theory]
    [InlineData(3u, Allow)]      // read
    [InlineData(4u, Allow)]      // write
    [InlineData(252u, Allow)]    // exit_group
    [InlineData(212u, Allow)]    // chown32: an i386-only name
    [InlineData(102u, Allow)]    // socketcall
    [InlineData(192u, Allow)]    // mmap2
    [InlineData(21u, Eperm)]     // mount
    [InlineData(88u, Eperm)]     // reboot
    [InlineData(165u, Allow)]    // getresuid (mount is 165 on x86_64)
    [InlineData(222u, Eperm)]    // unused number
    [InlineData(449u, Allow)]    // futex_waitv, the last i386 number the profile names
    [InlineData(450u, Enosys)]
    [InlineData(1000u, Enosys)]
    [InlineData(0xffff_ffffu, Enosys)]
    public void I386_calls_use_the_i386_numbers(uint nr, uint expected) => Assert.Equal(expected, RunI386(nr));

    [Fact]
    public void I386_argument_rules_apply_too()
    {
        Assert.Equal(Allow, RunI386(136, 8));          // personality
        Assert.Equal(Eperm, RunI386(136, 0x1234));
        Assert.Equal(Allow, RunI386(120, 0x11));       // clone
        Assert.Equal(Eperm, RunI386(120, 0x10000000));
        Assert.Equal(SeccompCalls.SECCOMP_RET_ERRNO | 38u, RunI386(435));   // clone3
    }

    [Fact]
    public void Without_x86_and_x32_listed_both_are_killed()
    {
        SockFilter[] program = SeccompCompiler.Compile(Load() with { Architectures = ["SCMP_ARCH_X86_64"] });
        Assert.Equal(Allow, BpfInterpreter.Run(program, SeccompData.X86_64(0)));
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(program, SeccompData.X86_64(X32 | 0)));
        Assert.Equal(SeccompCompiler.BadArchAction, BpfInterpreter.Run(program, new SeccompData(0, SeccompCalls.AUDIT_ARCH_I386, [])));
    }

    [Fact]
    public void Every_allowed_name_known_on_x86_64_is_allowed()
    {
        LinuxSeccomp p = Load();
        int known = 0;
        foreach (string name in p.Syscalls![0].Names!)
        {
            if (SyscallTable.TryGetNative(name, out int nr))
            {
                known++;
                Assert.Equal(Allow, Run((uint)nr));
            }
        }
        Assert.True(known > 280, $"{known} names resolved");
    }
}
