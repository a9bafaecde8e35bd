using System.Text;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox update --resources FILE|- ID`, or runc's per-limit flags (<see cref="UpdateFlags"/>):
/// <see cref="Container.Update"/>. The VM's own size does not change (no memory or CPU hotplug yet).
/// </summary>
public static class UpdateCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt, TextReader stdin)
    {
        VerbArgs args = VerbArgs.Parse(reader, "update", ["resources|r", .. UpdateFlags.Names], []);
        string id = args.SingleId("update");
        byte[] json;
        LinuxResources resources;
        if (args.Value("resources") is { } source)
        {
            json = source == "-" ? Encoding.UTF8.GetBytes(stdin.ReadToEnd()) : File.ReadAllBytes(source);
            // Validate here so that a malformed document never reaches the guest.
            resources = SpecLoader.ParseResources(json, source == "-" ? "stdin" : source);
        }
        else
        {
            resources = UpdateFlags.Parse(args)
                ?? throw new VmSandboxException(ErrorCode.InvalidArgument, "update: --resources FILE (or - for stdin), or a limit flag such as --memory, is required");
            json = Encoding.UTF8.GetBytes(SpecLoader.SerializeResources(resources));
        }
        Container.Load(rt, id).Update(resources, json);
        return ExitCodes.Success;
    }
}
