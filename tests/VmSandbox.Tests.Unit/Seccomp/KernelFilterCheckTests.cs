using System.Net.Sockets;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>
/// The host kernel's own check of classic BPF (bpf_check_classic: opcodes, jump targets, final
/// ret, BPF_MAXINSNS) applied to compiled programs, without installing them as seccomp filters:
/// they are attached as socket filters (SO_ATTACH_FILTER) to a throwaway UDP socket, which
/// restricts nothing but that socket.
/// </summary>
public sealed class KernelFilterCheckTests
{
    // asm-generic/socket.h
    private const int SOL_SOCKET = 1;
    private const int SO_ATTACH_FILTER = 26;
    private const int EINVAL = 22;

    private static unsafe int Attach(SockFilter[] program)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        fixed (SockFilter* p = program)
        {
            var prog = new SeccompCalls.sock_fprog
            {
                len = (ushort)program.Length,
                filter = (SeccompCalls.sock_filter*)p,
            };
            // SAFETY: prog points at the pinned program of len instructions; the kernel copies it.
            int rc = Tmds.Linux.LibC.setsockopt((int)socket.Handle, SOL_SOCKET, SO_ATTACH_FILTER, &prog, (uint)sizeof(SeccompCalls.sock_fprog));
            return rc == 0 ? 0 : Tmds.Linux.LibC.errno;
        }
    }

    [Fact]
    public void Kernel_accepts_the_docker_default_program() =>
        Assert.Equal(0, Attach(SeccompCompiler.Compile(DockerProfileTests.Load())));

    [Fact]
    public void Kernel_accepts_the_enosys_checks_of_runcs_test_profile()
    {
        SockFilter[] program = SeccompCompiler.Compile(SeccompEnosysTests.LoadRuncTest1());
        Assert.Contains(program, i => i.Code == (SeccompCalls.BPF_RET | SeccompCalls.BPF_K) && i.K == SeccompCompiler.EnosysAction);
        Assert.Equal(0, Attach(program));
    }

    [Fact]
    public void Kernel_accepts_a_program_with_long_jumps()
    {
        var rules = Enumerable.Range(0, 450).Select(i => new LinuxSeccomp.Syscall
        {
            Names = [SyscallTable.Entries[i % 200].Name],
            Action = i % 2 == 0 ? "SCMP_ACT_ALLOW" : "SCMP_ACT_LOG",
            Args = [new LinuxSeccomp.Arg { Index = (uint)(i % 6), Op = "SCMP_CMP_GT", Value = (ulong)i << 33 }],
        }).ToArray();
        SockFilter[] program = SeccompCompiler.Compile(new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            Syscalls = rules,
        });
        Assert.True(program.Length > 1024, $"{program.Length} instructions");
        // The -ENOSYS checks sit in front of trees that are longer than a short jump.
        Assert.Contains(program, i => i.Code == (SeccompCalls.BPF_RET | SeccompCalls.BPF_K) && i.K == SeccompCompiler.EnosysAction);
        Assert.Equal(0, Attach(program));
    }

    [Fact]
    public void Kernel_limit_is_bpf_maxinsns()
    {
        var ret = new SockFilter(SeccompCalls.BPF_RET | SeccompCalls.BPF_K, 0, 0, SeccompCalls.SECCOMP_RET_ALLOW);
        Assert.Equal(0, Attach(Enumerable.Repeat(ret, SeccompCalls.BPF_MAXINSNS).ToArray()));
        Assert.Equal(EINVAL, Attach(Enumerable.Repeat(ret, SeccompCalls.BPF_MAXINSNS + 1).ToArray()));
    }

    [Fact]
    public void Kernel_rejects_a_jump_past_the_end()
    {
        // Proves the check is live: the same shape as a compiled jump, one slot too far.
        SockFilter[] program =
        [
            new(SeccompCalls.BPF_JMP | SeccompCalls.BPF_JEQ | SeccompCalls.BPF_K, 1, 0, 0),
            new(SeccompCalls.BPF_RET | SeccompCalls.BPF_K, 0, 0, 0),
        ];
        Assert.Equal(EINVAL, Attach(program));
    }
}
