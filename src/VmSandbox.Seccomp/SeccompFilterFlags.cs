using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

/// <summary>The seccomp(2) filter flags an OCI profile may ask for.</summary>
[Flags]
public enum SeccompFilterFlags : uint
{
    None = 0,
    /// <summary>SECCOMP_FILTER_FLAG_TSYNC: install on every thread of the process.</summary>
    Tsync = SeccompCalls.SECCOMP_FILTER_FLAG_TSYNC,
    /// <summary>SECCOMP_FILTER_FLAG_LOG: audit-log every action but ALLOW.</summary>
    Log = SeccompCalls.SECCOMP_FILTER_FLAG_LOG,
    /// <summary>SECCOMP_FILTER_FLAG_SPEC_ALLOW: keep speculative store bypass mitigation off.</summary>
    SpecAllow = SeccompCalls.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
}
