using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli;

/// <summary>Which daemon `install` and `uninstall` register vmsandbox with.</summary>
internal enum InstallTarget
{
    Docker,
    Containerd,
}

/// <summary>
/// The flags `install` and `uninstall` share: --docker [--daemon-json PATH] or --containerd
/// [--containerd-config PATH] [--config-path PATH] (install only), then [--runtime-name NAME]
/// [--no-reload]. <see cref="ConfigFile"/> is daemon.json or config.toml.
/// </summary>
internal sealed record InstallFlags(InstallTarget Target, string ConfigFile, string RuntimeName, bool Reload, string? ShimConfigPath)
{
    public static InstallFlags Parse(ArgReader reader, string verb)
    {
        bool docker = false, containerd = false, reload = true;
        string? daemonJson = null, containerdConfig = null, runtimeName = null, configPath = null;
        while (!reader.AtEnd)
        {
            string arg = reader.Next();
            if (!ArgReader.TryParseFlag(arg, out string name, out string? inline))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb} takes no positional arguments, got \"{arg}\"");
            }
            switch (name)
            {
                case "docker":
                    docker = ArgReader.ParseBool(name, inline);
                    break;
                case "containerd":
                    containerd = ArgReader.ParseBool(name, inline);
                    break;
                case "daemon-json":
                    daemonJson = reader.TakeValue(name, inline);
                    break;
                case "containerd-config":
                    containerdConfig = reader.TakeValue(name, inline);
                    break;
                case "config-path" when verb == "install":
                    configPath = reader.TakeValue(name, inline);
                    break;
                case "runtime-name":
                    runtimeName = reader.TakeValue(name, inline);
                    break;
                case "no-reload":
                    reload = !ArgReader.ParseBool(name, inline);
                    break;
                default:
                    throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown flag --{name} for {verb}");
            }
        }
        if (docker == containerd)
        {
            throw docker
                ? new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: --docker and --containerd are two runs: pass one")
                : new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: say what to {verb} for: --docker or --containerd") { Hint = $"vmsandbox {verb} --docker, or vmsandbox {verb} --containerd" };
        }
        if (docker)
        {
            OnlyFor("--containerd", verb, ("containerd-config", containerdConfig), ("config-path", configPath));
            return new InstallFlags(InstallTarget.Docker, daemonJson ?? DockerDaemonConfig.DefaultPath, runtimeName ?? DockerDaemonConfig.DefaultRuntimeName, reload, null);
        }
        OnlyFor("--docker", verb, ("daemon-json", daemonJson));
        return new InstallFlags(InstallTarget.Containerd, containerdConfig ?? ContainerdConfig.DefaultPath, runtimeName ?? CriRuntimeHandler.DefaultName, reload, configPath);
    }

    /// <summary>The flags `install --help` and `uninstall --help` list.</summary>
    public static IReadOnlyList<(string Spec, bool TakesValue)> Help(string verb) =>
    [
        ("docker", false),
        ("daemon-json", true),
        ("containerd", false),
        ("containerd-config", true),
        .. verb == "install" ? [("config-path", true)] : Array.Empty<(string, bool)>(),
        ("runtime-name", true),
        ("no-reload", false),
    ];

    private static void OnlyFor(string target, string verb, params (string Flag, string? Value)[] flags)
    {
        foreach ((string flag, string? value) in flags)
        {
            if (value is not null)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: --{flag} goes with {target}");
            }
        }
    }
}
