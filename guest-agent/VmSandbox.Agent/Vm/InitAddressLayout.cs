using VmSandbox.Common;

namespace VmSandbox.Agent.Vm;

/// <summary>
/// Under TCG the runtime boots the guest with <c>norandmaps</c> (ADR 0016): the agent, and every
/// container init it starts with <c>ADDR_NO_RANDOMIZE</c>, then sit at the same virtual addresses,
/// so QEMU's translations of their code (keyed by virtual address) are made once and found again
/// by each init: `exec` went from about 550 to 170 ms. Everything else gets address-space
/// randomisation back: the agent turns it on again for the whole guest before anything else
/// runs, and each init clears the flag before it execs the container's program.
/// </summary>
public static class InitAddressLayout
{
    public const string KernelParam = "norandmaps";
    private const string Sysctl = "/proc/sys/kernel/randomize_va_space";

    /// <summary>Whether the kernel command line asks for fixed addresses.</summary>
    public static bool Requested(string cmdline) => KernelCmdline.Has(cmdline, KernelParam);

    /// <summary>
    /// With <see cref="KernelParam"/>: turns randomisation back on for every later process (full,
    /// 2) and returns true, the inits to be started at fixed addresses. A guest that cannot turn it
    /// on again runs no container (fail closed).
    /// </summary>
    public static bool Apply(string cmdline, Action<string, string> write)
    {
        if (!Requested(cmdline))
        {
            return false;
        }
        try
        {
            write(Sysctl, "2");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmSandboxException(ErrorCode.Internal, $"{KernelParam}: write {Sysctl}: {e.Message}: containers would run without address-space randomisation");
        }
        return true;
    }
}
