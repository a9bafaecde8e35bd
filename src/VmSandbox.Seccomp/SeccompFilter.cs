using System.Runtime.InteropServices;
using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

/// <summary>
/// Installs a compiled program on the calling thread (every thread with
/// <see cref="SeccompFilterFlags.Tsync"/>). Irreversible: the guest agent calls it in the
/// container's process right before execve, never in itself, and unit tests never call it.
/// </summary>
public static class SeccompFilter
{
    /// <summary>
    /// Installs <paramref name="program"/>. With <paramref name="setNoNewPrivs"/> sets
    /// no_new_privs first, which seccomp(2) needs unless the caller has CAP_SYS_ADMIN.
    /// </summary>
    public static void Install(SockFilter[] program, SeccompFilterFlags flags, bool setNoNewPrivs = true)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (setNoNewPrivs)
        {
            SeccompCalls.SetNoNewPrivs();
        }
        // SockFilter has struct sock_filter's layout (8 bytes, same field order): a view, no copy.
        ReadOnlySpan<SeccompCalls.sock_filter> raw = MemoryMarshal.Cast<SockFilter, SeccompCalls.sock_filter>(program);
        SeccompCalls.SetModeFilter(raw, (uint)flags);
    }
}
