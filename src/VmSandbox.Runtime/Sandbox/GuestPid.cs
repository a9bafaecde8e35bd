using VmSandbox.Common;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>A pid the agent sent (a guest's number, untrusted): 1..int.MaxValue, or a protocol error, never a wrapped negative.</summary>
public static class GuestPid
{
    public static int From(uint pid, string what) =>
        pid is > 0 and <= int.MaxValue ? (int)pid : throw new VmSandboxException(ErrorCode.Protocol, $"{what}: the agent answered pid {pid}");
}
