using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli;

/// <summary>Builds the container core's <see cref="ContainerRuntime"/> for one CLI call from runc's global flags.</summary>
public static class CliRuntime
{
    public static ContainerRuntime From(GlobalOptions options, CliLog log)
    {
        RuntimeConfig config = RuntimeConfigLoader.Load(RuntimeConfigLoader.ProcessEnvironment(), AppContext.BaseDirectory);
        var store = new ContainerStore(Path.GetFullPath(options.Root ?? config.StateRoot), config.StateRoot);
        string self = Environment.ProcessPath ?? throw new VmSandboxException(ErrorCode.Internal, "cannot find own executable");
        return new ContainerRuntime(config, store, log, new OsSandboxHost(self, HelperGlobalArgs(options, store.Root), reapsHelpers: false), options.SystemdCgroup);
    }

    /// <summary>The global flags the runtime's helper processes (monitor, exec relay) inherit.</summary>
    private static List<string> HelperGlobalArgs(GlobalOptions options, string root)
    {
        List<string> args = ["--root", root];
        if (options.LogPath is not null)
        {
            args.AddRange(["--log", options.LogPath, "--log-format", options.LogFormat]);
        }
        if (options.Debug)
        {
            args.Add("--debug");
        }
        return args;
    }
}
