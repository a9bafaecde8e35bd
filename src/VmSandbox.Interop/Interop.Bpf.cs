using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// bpf(2), the two commands a cgroup v2 device filter needs: load a BPF_PROG_TYPE_CGROUP_DEVICE
/// program and attach it to a cgroup directory (include/uapi/linux/bpf.h).
/// </summary>
public static unsafe partial class Bpf
{
    // arch/x86/entry/syscalls/syscall_64.tbl: 321 bpf.
    private const long SYS_bpf = 321;
    private const int BPF_PROG_LOAD = 5;
    private const int BPF_PROG_ATTACH = 8;
    public const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    public const uint BPF_CGROUP_DEVICE = 6;
    /// <summary>Programs in descendant cgroups run too (a nested runtime may add its own).</summary>
    public const uint BPF_F_ALLOW_MULTI = 2;

    /// <summary>union bpf_attr is larger; the kernel wants the bytes past a command's fields zero.</summary>
    private const int AttrSize = 128;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall3(long number, long cmd, byte* attr, long size);

    /// <summary>BPF_PROG_LOAD of <paramref name="instructions"/> (8 bytes each); the verifier's log is in the error.</summary>
    public static SafeFd LoadProgram(uint type, ReadOnlySpan<byte> instructions, uint expectedAttachType)
    {
        if (instructions.Length == 0 || instructions.Length % 8 != 0)
        {
            throw new ArgumentException("BPF instructions are 8 bytes each", nameof(instructions));
        }
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        byte[] log = new byte[16 * 1024];
        byte[] license = "Apache-2.0\0"u8.ToArray();
        fixed (byte* insns = instructions)
        fixed (byte* lic = license)
        fixed (byte* logBuf = log)
        {
            // struct { u32 prog_type; u32 insn_cnt; u64 insns; u64 license; u32 log_level;
            //          u32 log_size; u64 log_buf; u32 kern_version; u32 prog_flags;
            //          char prog_name[16]; u32 prog_ifindex; u32 expected_attach_type; }
            *(uint*)(attr + 0) = type;
            *(uint*)(attr + 4) = (uint)(instructions.Length / 8);
            *(ulong*)(attr + 8) = (ulong)insns;
            *(ulong*)(attr + 16) = (ulong)lic;
            *(uint*)(attr + 24) = 1;
            *(uint*)(attr + 28) = (uint)log.Length;
            *(ulong*)(attr + 32) = (ulong)logBuf;
            "vmsb_devices"u8.CopyTo(new Span<byte>(attr + 48, 16));
            *(uint*)(attr + 68) = expectedAttachType;
            // SAFETY: attr is AttrSize zeroed bytes laid out as above; every pointer in it is pinned
            // for the duration of the call, and log_size is the pinned log buffer's length.
            long fd = syscall3(SYS_bpf, BPF_PROG_LOAD, attr, AttrSize);
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string verifier = System.Text.Encoding.UTF8.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).Trim();
                throw SyscallError.Create("bpf(BPF_PROG_LOAD)", verifier.Length > 0 ? "verifier: " + verifier.Replace("\n", " | ") : null, errno);
            }
            return new SafeFd((int)fd);
        }
    }

    /// <summary>BPF_PROG_ATTACH of <paramref name="program"/> to the cgroup directory <paramref name="cgroup"/>.</summary>
    public static void Attach(SafeFd cgroup, SafeFd program, uint attachType, uint flags)
    {
        bool addedCgroup = false;
        bool addedProgram = false;
        cgroup.DangerousAddRef(ref addedCgroup);
        program.DangerousAddRef(ref addedProgram);
        try
        {
            byte* attr = stackalloc byte[AttrSize];
            new Span<byte>(attr, AttrSize).Clear();
            // struct { u32 target_fd; u32 attach_bpf_fd; u32 attach_type; u32 attach_flags; u32 replace_bpf_fd; }
            *(uint*)(attr + 0) = (uint)cgroup.Fd;
            *(uint*)(attr + 4) = (uint)program.Fd;
            *(uint*)(attr + 8) = attachType;
            *(uint*)(attr + 12) = flags;
            // SAFETY: attr is AttrSize zeroed bytes laid out as above; both fds are kept open by the AddRefs.
            if (syscall3(SYS_bpf, BPF_PROG_ATTACH, attr, AttrSize) < 0)
            {
                throw SyscallError.Create("bpf(BPF_PROG_ATTACH)", null, Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            if (addedProgram)
            {
                program.DangerousRelease();
            }
            if (addedCgroup)
            {
                cgroup.DangerousRelease();
            }
        }
    }
}
