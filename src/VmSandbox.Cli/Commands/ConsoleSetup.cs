using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Cli.Commands;

/// <summary>--console-socket: a host pty whose master goes to the socket; returns the slave's path.</summary>
public static class ConsoleSetup
{
    public static string SendNewPty(string consoleSocket, ProcessSpec.Box? size)
    {
        _ = size;
        throw new VmSandboxException(ErrorCode.FailedPrecondition, $"console socket {consoleSocket}: terminals not supported yet");
    }
}
