using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

/// <summary>
/// runc compat: the -ENOSYS stub of runc 1.1 (libcontainer/seccomp/patchbpf/enosys_linux.go).
/// A syscall numbered above the largest number the profile names for its arch is newer than the
/// profile, so it fails with ENOSYS instead of the default action: libc then falls back to the
/// older call (glibc's clone3 to clone) instead of failing on EPERM. runc prepends a stub to
/// libseccomp's program; here the check is one BPF_JGT in front of each arch's search tree.
/// </summary>
public static partial class SeccompCompiler
{
    // include/uapi/asm-generic/errno.h
    private const uint ENOSYS = 38;

    /// <summary>SECCOMP_RET_ERRNO | ENOSYS, what a syscall past the profile's last one gets.</summary>
    public const uint EnosysAction = SeccompCalls.SECCOMP_RET_ERRNO | ENOSYS;

    /// <summary>
    /// Whether the stub applies under <paramref name="defaultAction"/>. runc skips it for the
    /// permissive defaults: ALLOW, LOG, and TRACE (a tracer handles new calls itself). With an
    /// ERRNO(ENOSYS) default it changes nothing, so it is left out (runc means to skip it there
    /// too; its check compares defaultErrnoRet with the whole return value and never matches).
    /// </summary>
    private static bool EnosysStubApplies(uint defaultAction)
    {
        uint action = defaultAction & ~SeccompCalls.SECCOMP_RET_DATA;
        return action is not (SeccompCalls.SECCOMP_RET_ALLOW or SeccompCalls.SECCOMP_RET_LOG or SeccompCalls.SECCOMP_RET_TRACE)
            && defaultAction != EnosysAction;
    }

    /// <summary>
    /// Emits, in front of an arch's search tree <paramref name="tree"/> (A holds nr), "nr greater
    /// than the largest number in <paramref name="calls"/>: return ENOSYS". Emits nothing and
    /// returns <paramref name="tree"/> when the stub is off or the profile names no syscall known
    /// on the arch (runc's findLastSyscalls skips such an arch).
    /// </summary>
    private static BpfLabel EmitEnosysCheck(BpfEmitter e, bool stub, SortedDictionary<uint, SortedSet<int>> calls, BpfLabel tree)
    {
        if (!stub || calls.Count == 0)
        {
            return tree;
        }
        // runc compat: the last syscall is the largest number among the profile's names on this
        // arch, whatever their rules' actions or arguments, so everything above it has no rule.
        // For x32 the number carries __X32_SYSCALL_BIT (the x32 entries 512-547 usually win).
        return e.EmitJump(SeccompCalls.BPF_JGT, calls.Keys.Max(), BpfLabel.Return(EnosysAction), tree);
    }
}
