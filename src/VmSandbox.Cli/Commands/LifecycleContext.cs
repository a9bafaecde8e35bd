using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>What every lifecycle verb needs: the runtime configuration, the container store of --root, the log.</summary>
public sealed record LifecycleContext(RuntimeConfig Config, ContainerStore Store, GlobalOptions Options, CliLog Log)
{
    public static LifecycleContext From(GlobalOptions options, CliLog log)
    {
        RuntimeConfig config = RuntimeConfigLoader.Load(RuntimeConfigLoader.ProcessEnvironment(), AppContext.BaseDirectory);
        string root = Path.GetFullPath(options.Root ?? config.StateRoot);
        return new LifecycleContext(config, new ContainerStore(root, config.StateRoot), options, log);
    }

    /// <summary>Loads the record and its current status.</summary>
    public (ContainerRecord Record, ContainerStatus Status) Get(string id)
    {
        ContainerRecord record = Store.Load(id);
        return (record, ContainerStore.StatusOf(record));
    }

    /// <summary>Takes exactly one positional argument: the container ID.</summary>
    public static string SingleId(IReadOnlyList<string> positional, string verb) => positional.Count switch
    {
        1 => positional[0],
        0 => throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: container id cannot be empty"),
        _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: expected exactly one container id, got {positional.Count} arguments"),
    };

    /// <summary>Waits until the monitor is gone (it is not our child: poll /proc).</summary>
    public static bool WaitMonitorExit(ContainerRecord record, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (ProcessProbe.IsAlive(record.MonitorPid, record.MonitorStartTime))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            Thread.Sleep(20);
        }
        return true;
    }
}
