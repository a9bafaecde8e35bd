using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

/// <summary>OCI SCMP_ACT_* names to the SECCOMP_RET_* values a filter returns.</summary>
internal static class SeccompActions
{
    /// <summary>runc compat: SCMP_ACT_ERRNO and SCMP_ACT_TRACE without errnoRet use EPERM.</summary>
    public const uint DefaultErrno = 1;

    /// <summary>
    /// The filter return value for <paramref name="action"/>. <paramref name="context"/> starts
    /// the error message ("default action", "syscall rule 3").
    /// </summary>
    public static uint Resolve(string action, uint? errnoRet, string context)
    {
        uint data = (errnoRet ?? DefaultErrno) & SeccompCalls.SECCOMP_RET_DATA;
        uint ret = action switch
        {
            // libseccomp: SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD.
            "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SeccompCalls.SECCOMP_RET_KILL_THREAD,
            "SCMP_ACT_KILL_PROCESS" => SeccompCalls.SECCOMP_RET_KILL_PROCESS,
            "SCMP_ACT_TRAP" => SeccompCalls.SECCOMP_RET_TRAP,
            "SCMP_ACT_ERRNO" => SeccompCalls.SECCOMP_RET_ERRNO | data,
            "SCMP_ACT_TRACE" => SeccompCalls.SECCOMP_RET_TRACE | data,
            "SCMP_ACT_ALLOW" => SeccompCalls.SECCOMP_RET_ALLOW,
            "SCMP_ACT_LOG" => SeccompCalls.SECCOMP_RET_LOG,
            // The agent has no listener to hand the notify fd to (seccomp-notify is not wired up).
            "SCMP_ACT_NOTIFY" => throw Invalid($"{context}: action SCMP_ACT_NOTIFY is not supported"),
            _ => throw Invalid($"{context}: unknown action \"{action}\""),
        };
        if (errnoRet is not null && action is not ("SCMP_ACT_ERRNO" or "SCMP_ACT_TRACE"))
        {
            // runc compat: errnoRet only means something for ERRNO and TRACE.
            throw Invalid($"{context}: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}");
        }
        return ret;
    }

    internal static VmSandboxException Invalid(string message) =>
        new(ErrorCode.InvalidArgument, "compile seccomp profile: " + message);
}
