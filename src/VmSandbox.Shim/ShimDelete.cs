using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;
using VmSandbox.Shim.Protocol;

namespace VmSandbox.Shim;

/// <summary>
/// `delete` (protocols.md §5.3): containerd runs it when the serving shim is gone (killed, or
/// found dead after a containerd restart). Everything the task had goes: its sandbox (monitor,
/// VM, virtiofsd), its state, the rootfs mount, the dead shim's socket. The answer on stdout is a
/// binary DeleteResponse with runc's shim's status for a task that was killed: 137.
/// </summary>
public static class ShimDelete
{
    public static int Run(ShimFlags flags)
    {
        flags.RequireTask();
        string bundle = flags.Bundle ?? Directory.GetCurrentDirectory();
        using var log = new ShimLog(null, flags.Id, flags.Debug);
        var paths = new ShimPaths(RuntimeConfigLoader.Load(), flags.Namespace);
        var errors = new List<string>();
        try
        {
            Container.Delete(paths.RuntimeFor(bundle, log, flags.Debug), flags.Id, force: true);
        }
        catch (Exception e)
        {
            errors.Add(VmSandboxException.FormatChain(e));
        }
        RootfsMount.UnmountLeftovers(bundle);
        try
        {
            ShimSocket.RemoveDead(paths.SocketFor(flags.Address, ShimStart.GroupOf(bundle) ?? flags.Id));
        }
        catch (Exception e)
        {
            errors.Add(VmSandboxException.FormatChain(e));
        }
        foreach (string e in errors)
        {
            Console.Error.WriteLine($"delete {flags.Id}: {e}"); // containerd logs these as warnings
        }
        var response = new DeleteResponse { ExitStatus = 137, ExitedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
        using Stream stdout = Console.OpenStandardOutput();
        response.WriteTo(stdout);
        return ExitCodes.Success;
    }
}
