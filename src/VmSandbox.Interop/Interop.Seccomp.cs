using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER): how the guest agent puts a
/// compiled classic BPF program on the container's process. A filter can never be removed, so
/// callers run this in the child just before execve, never in a process they want to keep.
/// </summary>
public static unsafe partial class SeccompCalls
{
    // include/uapi/linux/prctl.h
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_GET_NO_NEW_PRIVS = 39;

    // include/uapi/linux/seccomp.h
    public const uint SECCOMP_SET_MODE_FILTER = 1;
    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1u << 0;
    public const uint SECCOMP_FILTER_FLAG_LOG = 1u << 1;
    public const uint SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1u << 2;

    // include/uapi/linux/seccomp.h: filter return values, highest precedence first.
    public const uint SECCOMP_RET_KILL_PROCESS = 0x80000000;
    public const uint SECCOMP_RET_KILL_THREAD = 0x00000000;
    public const uint SECCOMP_RET_TRAP = 0x00030000;
    public const uint SECCOMP_RET_ERRNO = 0x00050000;
    public const uint SECCOMP_RET_USER_NOTIF = 0x7fc00000;
    public const uint SECCOMP_RET_TRACE = 0x7ff00000;
    public const uint SECCOMP_RET_LOG = 0x7ffc0000;
    public const uint SECCOMP_RET_ALLOW = 0x7fff0000;
    public const uint SECCOMP_RET_DATA = 0x0000ffff;

    // include/uapi/linux/audit.h: struct seccomp_data.arch values.
    public const uint AUDIT_ARCH_X86_64 = 0xc000003e;
    public const uint AUDIT_ARCH_I386 = 0x40000003;

    // arch/x86/include/uapi/asm/unistd.h: x32 syscalls carry this bit in seccomp_data.nr.
    public const uint __X32_SYSCALL_BIT = 0x40000000;

    // include/uapi/linux/filter.h: the kernel refuses longer classic BPF programs.
    public const int BPF_MAXINSNS = 4096;

    // include/uapi/linux/bpf_common.h: the opcodes a seccomp filter uses.
    public const ushort BPF_LD = 0x00;
    public const ushort BPF_ALU = 0x04;
    public const ushort BPF_JMP = 0x05;
    public const ushort BPF_RET = 0x06;
    public const ushort BPF_W = 0x00;
    public const ushort BPF_ABS = 0x20;
    public const ushort BPF_AND = 0x50;
    public const ushort BPF_JA = 0x00;
    public const ushort BPF_JEQ = 0x10;
    public const ushort BPF_JGT = 0x20;
    public const ushort BPF_JGE = 0x30;
    public const ushort BPF_JSET = 0x40;
    public const ushort BPF_K = 0x00;

    // arch/x86/entry/syscalls/syscall_64.tbl: 317 seccomp. glibc's wrapper is new (2.39+).
    private const long SYS_seccomp = 317;

    /// <summary>linux/filter.h struct sock_filter (8 bytes): one classic BPF instruction.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sock_filter
    {
        public ushort code;
        public byte jt;
        public byte jf;
        public uint k;
    }

    /// <summary>linux/filter.h struct sock_fprog (16 bytes on LP64): length and program.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sock_fprog
    {
        public ushort len;
        public sock_filter* filter;
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall3(long number, ulong a0, ulong a1, sock_fprog* a2);

    /// <summary>
    /// Sets no_new_privs on the calling thread; seccomp(2) requires it (or CAP_SYS_ADMIN), and
    /// runc sets it whenever the spec asks for it or the process is unprivileged.
    /// </summary>
    public static void SetNoNewPrivs()
    {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        {
            throw SyscallError.Create("prctl(PR_SET_NO_NEW_PRIVS)", null, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// Installs <paramref name="program"/> on the calling thread (all threads with
    /// SECCOMP_FILTER_FLAG_TSYNC). A positive return with TSYNC names a thread that could not be
    /// synchronised; that is reported as an error too.
    /// </summary>
    public static void SetModeFilter(ReadOnlySpan<sock_filter> program, uint flags)
    {
        if (program.IsEmpty || program.Length > BPF_MAXINSNS)
        {
            throw SyscallError.Create("seccomp(SECCOMP_SET_MODE_FILTER)", null, 22 /* EINVAL */);
        }
        long rc;
        int errno;
        fixed (sock_filter* p = program)
        {
            var prog = new sock_fprog { len = (ushort)program.Length, filter = p };
            // SAFETY: prog lives on the stack and points at the pinned program of len entries;
            // the kernel copies the program before returning and keeps no pointer to it.
            rc = syscall3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
            errno = Marshal.GetLastPInvokeError();
        }
        if (rc < 0)
        {
            throw SyscallError.Create("seccomp(SECCOMP_SET_MODE_FILTER)", null, errno);
        }
        if (rc > 0)
        {
            // seccomp(2): with TSYNC, the id of a thread that could not be synchronised.
            throw SyscallError.Create($"seccomp(SECCOMP_SET_MODE_FILTER) tsync thread {rc}", null, 16 /* EBUSY */);
        }
    }
}
