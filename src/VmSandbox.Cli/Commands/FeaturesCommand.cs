using VmSandbox.Common;
using VmSandbox.Oci;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox features`: the JSON document `runc features` prints, describing what VmSandbox supports.</summary>
public static class FeaturesCommand
{
    public static int Run(ArgReader reader, TextWriter stdout)
    {
        if (!reader.AtEnd)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"features takes no arguments, got \"{reader.Next()}\"");
        }
        stdout.Write(Features.Create(CliApp.Version).ToJson());
        return ExitCodes.Success;
    }
}
