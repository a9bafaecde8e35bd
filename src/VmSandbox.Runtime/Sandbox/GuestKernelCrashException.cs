using VmSandbox.Common;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The guest's kernel died before the agent was ready, with an oops, BUG or panic on the console
/// (<see cref="AgentReadinessWatcher.KernelOops"/>). Seen about once in 300 boots of 2-core TCG
/// hosts under load; <see cref="SandboxVmFactory"/> boots once more, with a warning that names it.
/// </summary>
public sealed class GuestKernelCrashException : VmSandboxException
{
    public GuestKernelCrashException(ErrorCode code, string message)
        : base(code, message)
    {
    }

    public GuestKernelCrashException()
    {
    }

    public GuestKernelCrashException(string message)
        : base(message)
    {
    }

    public GuestKernelCrashException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
