using VmSandbox.Common;

namespace VmSandbox.Shim;

/// <summary>
/// containerd-shim-vmsandbox-v2: containerd's shim v2 for VmSandbox. containerd runs it as
/// <c>start</c> (start or find the serving shim, print its address), as <c>delete</c> (clean up
/// after a shim that is gone) and, from <c>start</c>, as the serving shim itself (no action).
/// Wire facts: shared/reference/protocols.md §5; design: docs/adr/0017-containerd-shim.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        ShimFlags flags;
        try
        {
            flags = ShimFlags.Parse(args);
        }
        catch (VmSandboxException e)
        {
            Console.Error.WriteLine($"containerd-shim-vmsandbox-v2: {e.Message}");
            return ExitCodes.Failure;
        }
        if (flags.Version)
        {
            Console.Out.WriteLine($"containerd-shim-vmsandbox-v2: version {ShimStart.Version}");
            return ExitCodes.Success;
        }
        try
        {
            return flags.Action switch
            {
                "start" => ShimStart.Run(flags),
                "delete" => ShimDelete.Run(flags),
                "" => ShimServer.Run(flags),
                _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown action {flags.Action}: start, delete, or none"),
            };
        }
        catch (Exception e)
        {
            // containerd shows start's output as the error: one line.
            Console.Error.WriteLine($"containerd-shim-vmsandbox-v2: {VmSandboxException.FormatChain(e)}");
            return ExitCodes.Failure;
        }
    }
}
