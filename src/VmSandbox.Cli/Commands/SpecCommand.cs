using VmSandbox.Common;
using VmSandbox.Oci;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox spec [--bundle DIR]`: writes runc's default config.json into the bundle
/// (runc compat: refuses to overwrite an existing one).
/// </summary>
public static class SpecCommand
{
    public static int Run(ArgReader reader)
    {
        string bundle = ".";
        while (!reader.AtEnd)
        {
            string arg = reader.Next();
            if (!ArgReader.TryParseFlag(arg, out string name, out string? inline))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"spec takes no positional arguments, got \"{arg}\"");
            }
            bundle = name switch
            {
                "bundle" or "b" => reader.TakeValue(name, inline),
                "rootless" => throw new VmSandboxException(ErrorCode.InvalidArgument, "spec --rootless is not supported: vmsandbox runs as root"),
                _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown flag --{name} for spec"),
            };
        }
        string path = Path.Combine(bundle, "config.json");
        if (!Directory.Exists(bundle))
        {
            throw new VmSandboxException(ErrorCode.NotFound, $"bundle {bundle}: no such file or directory");
        }
        if (File.Exists(path))
        {
            // runc compat: the same wording.
            throw new VmSandboxException(ErrorCode.AlreadyExists, "File config.json exists. Remove it first.");
        }
        File.WriteAllText(path, SpecLoader.Serialize(DefaultSpec.Create()));
        return ExitCodes.Success;
    }
}
