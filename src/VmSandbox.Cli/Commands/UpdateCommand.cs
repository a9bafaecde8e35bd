using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox update --resources FILE|- ID`: new guest cgroup limits from an OCI LinuxResources
/// JSON object, or from runc's per-limit flags (<see cref="UpdateFlags"/>); a cpuset goes to the host
/// cgroup, which pins the VM. The VM's own size does not change (no memory or CPU hotplug yet).
/// </summary>
public static class UpdateCommand
{
    public static int Run(ArgReader reader, LifecycleContext ctx, TextReader stdin)
    {
        VerbArgs args = VerbArgs.Parse(reader, "update", ["resources|r", .. UpdateFlags.Names], []);
        string id = LifecycleContext.SingleId(args.Positional, "update");
        byte[] json;
        LinuxResources resources;
        if (args.Value("resources") is { } source)
        {
            json = source == "-" ? System.Text.Encoding.UTF8.GetBytes(stdin.ReadToEnd()) : File.ReadAllBytes(source);
            // Validate here so that a malformed document never reaches the guest.
            resources = SpecLoader.ParseResources(json, source == "-" ? "stdin" : source);
        }
        else
        {
            resources = UpdateFlags.Parse(args)
                ?? throw new VmSandboxException(ErrorCode.InvalidArgument, "update: --resources FILE (or - for stdin), or a limit flag such as --memory, is required");
            json = System.Text.Encoding.UTF8.GetBytes(SpecLoader.SerializeResources(resources));
        }
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        if (status is ContainerStatus.Stopped or ContainerStatus.Creating)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, "container not running");
        }
        // The cpuset pins the VM on the host; the rest are the guest cgroup's limits.
        HostCgroup.SetCpuset(record.HostCgroups ?? [], resources.Cpu?.Cpus, resources.Cpu?.Mems);
        AgentCall.Run(record, async a => await a.UpdateContainerAsync(
            new UpdateContainerRequest { ContainerId = id, Resources = ByteString.CopyFrom(json) }, AgentCall.Options, CancellationToken.None));
        return ExitCodes.Success;
    }
}
