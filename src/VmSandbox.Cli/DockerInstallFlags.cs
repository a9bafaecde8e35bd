using VmSandbox.Common;
using VmSandbox.Install.Docker;

namespace VmSandbox.Cli;

/// <summary>The flags `install` and `uninstall` share: --docker [--daemon-json PATH] [--runtime-name NAME] [--no-reload].</summary>
internal sealed record DockerInstallFlags(string DaemonJson, string RuntimeName, bool Reload)
{
    public static DockerInstallFlags Parse(ArgReader reader, string verb)
    {
        bool docker = false;
        var o = new DockerInstallFlags(DockerDaemonConfig.DefaultPath, DockerDaemonConfig.DefaultRuntimeName, true);
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
                case "daemon-json":
                    o = o with { DaemonJson = reader.TakeValue(name, inline) };
                    break;
                case "runtime-name":
                    o = o with { RuntimeName = reader.TakeValue(name, inline) };
                    break;
                case "no-reload":
                    o = o with { Reload = !ArgReader.ParseBool(name, inline) };
                    break;
                default:
                    throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown flag --{name} for {verb}");
            }
        }
        if (!docker)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"{verb}: say what to {verb} for: --docker") { Hint = $"vmsandbox {verb} --docker" };
        }
        return o;
    }

    /// <summary>Prints what reloading dockerd did.</summary>
    public void ReportReload(IDockerReloader reloader, TextWriter stdout)
    {
        if (!Reload)
        {
            stdout.WriteLine("dockerd not reloaded (--no-reload): send it SIGHUP or restart it to apply");
            return;
        }
        stdout.WriteLine(reloader.Reload() is { } pid
            ? $"sent SIGHUP to dockerd (pid {pid}): it reloads its runtimes now"
            : "dockerd is not running: it reads the runtimes when it starts");
    }
}
