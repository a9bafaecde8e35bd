using VmSandbox.Common;

namespace VmSandbox.Cli;

/// <summary>
/// Parses runc's global flags, dispatches the verb, and holds the only catch-all: one line to
/// stderr, the JSON error line to --log, the stack at debug level, exit code from <see cref="ExitCodes"/>.
/// </summary>
public static class CliApp
{
    public static string Version => BuildVersion.Of(typeof(CliApp).Assembly);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = new GlobalOptions();
        var log = new CliLog(options, stderr);
        string verb = "";
        try
        {
            var reader = new ArgReader(args);
            options = ParseGlobal(reader);
            log = new CliLog(options, stderr);
            if (reader.AtEnd)
            {
                Usage(stdout);
                return ExitCodes.Usage;
            }
            verb = reader.Next();
            log.Debug($"vmsandbox {Version}: {verb} (pid {Environment.ProcessId})");
            // The lifecycle verbs' flag parser (VerbArgs) answers -h with their flags; these have their own parsers.
            if (reader.Peek() is "-h" or "--help" && verb is "check" or "boot" or "spec" or "features" or "install" or "uninstall")
            {
                throw new HelpRequestedException(verb, verb is "install" or "uninstall" ? InstallFlags.Help(verb) : []);
            }
            return verb switch
            {
                "check" => Commands.CheckCommand.Run(reader, stdout),
                "boot" => Commands.BootCommand.Run(reader, options, stdout, log),
                "spec" => Commands.SpecCommand.Run(reader),
                "features" => Commands.FeaturesCommand.Run(reader, stdout),
                "create" => Commands.CreateCommand.Run(reader, Core(options, log)),
                "start" => Commands.StartCommand.Run(reader, Core(options, log)),
                "state" => Commands.StateCommand.Run(reader, Core(options, log), stdout),
                "kill" => Commands.KillCommand.Run(reader, Core(options, log)),
                "delete" => Commands.DeleteCommand.Run(reader, Core(options, log)),
                "run" => Commands.RunCommand.Run(reader, Core(options, log)),
                "exec" => Commands.ExecCommand.Run(reader, Core(options, log)),
                "ps" => Commands.PsCommand.Run(reader, Core(options, log), stdout),
                "list" => Commands.ListCommand.Run(reader, Core(options, log), stdout),
                "pause" => Commands.PauseCommand.Run(reader, Core(options, log), pause: true),
                "resume" => Commands.PauseCommand.Run(reader, Core(options, log), pause: false),
                "update" => Commands.UpdateCommand.Run(reader, Core(options, log), Console.In),
                "events" => Commands.EventsCommand.Run(reader, Core(options, log), stdout),
                Runtime.Containers.MonitorProcess.Verb => Commands.HelperVerbs.Monitor(reader, Core(options, log)),
                Runtime.Containers.ExecRelay.Verb => Commands.HelperVerbs.ExecRelay(reader, Core(options, log)),
                Runtime.Containers.MemberProcess.Verb => Commands.HelperVerbs.Member(reader, Core(options, log)),
                Runtime.Sandbox.PoolVm.Verb => Commands.HelperVerbs.PoolVm(reader, Core(options, log)),
                "pool" => Commands.PoolCommand.Run(reader, Core(options, log), stdout),
                "install" => Commands.InstallCommand.Run(reader, stdout),
                "uninstall" => Commands.UninstallCommand.Run(reader, stdout),
                "version" or "--version" or "-v" => PrintVersion(stdout),
                "help" or "--help" or "-h" => Usage(stdout),
                _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown command \"{verb}\"")
                {
                    Hint = "vmsandbox help",
                },
            };
        }
        catch (HelpRequestedException help)
        {
            return VerbUsage(stdout, help);
        }
        catch (Exception e)
        {
            log.Error(VmSandboxException.FormatChain(e));
            log.Debug(e.ToString());
            return VmSandboxException.CodeOf(e) == ErrorCode.InvalidArgument && e.Message.StartsWith("unknown", StringComparison.Ordinal)
                ? ExitCodes.Usage
                : verb == "exec" ? ExitCodes.ExecFailed : ExitCodes.Failure;
        }
    }

    private static Runtime.Containers.ContainerRuntime Core(GlobalOptions options, CliLog log) => CliRuntime.From(options, log);

    private static GlobalOptions ParseGlobal(ArgReader reader)
    {
        var o = new GlobalOptions();
        while (!reader.AtEnd && ArgReader.TryParseFlag(reader.Peek()!, out string name, out string? inline))
        {
            if (name is "version" or "v" or "help" or "h")
            {
                break;
            }
            reader.Next();
            o = name switch
            {
                "root" => o with { Root = reader.TakeValue(name, inline) },
                "log" => o with { LogPath = reader.TakeValue(name, inline) },
                "log-format" => o with { LogFormat = ParseLogFormat(reader.TakeValue(name, inline)) },
                "debug" => o with { Debug = ArgReader.ParseBool(name, inline) },
                "systemd-cgroup" => o with { SystemdCgroup = ArgReader.ParseBool(name, inline) },
                _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown global flag --{name}"),
            };
        }
        return o;
    }

    private static string ParseLogFormat(string v) => v is "json" or "text"
        ? v
        : throw new VmSandboxException(ErrorCode.InvalidArgument, $"log format \"{v}\" is not json or text");

    private static int PrintVersion(TextWriter stdout)
    {
        stdout.WriteLine($"vmsandbox version {Version}");
        stdout.WriteLine("spec: 1.0.2");
        return ExitCodes.Success;
    }

    private static readonly (string Name, string Summary)[] s_commands =
    [
        ("create", "create a container from a bundle: boot its VM, set up the process (stopped before exec)"),
        ("start", "start the created container's process"),
        ("run", "create and start; wait for the container unless --detach"),
        ("state", "print the container's OCI state as JSON"),
        ("kill", "send a signal to the container's process (--all: every process)"),
        ("delete", "delete a stopped container (--force: kill it first)"),
        ("exec", "run another process in the container"),
        ("ps", "list the sandbox's host processes (--guest: the container's own, guest PIDs)"),
        ("list", "list the containers under --root"),
        ("pause", "freeze every process of the container"),
        ("resume", "thaw a paused container"),
        ("update", "change the container's resource limits (--resources FILE|-, or --memory, --pids-limit, --cpu-quota …)"),
        ("events", "print resource usage (--stats once, else every --interval)"),
        ("pool", "the warm pool of booted VMs: status, fill [--wait SECONDS], drain (pool.size in the config turns it on)"),
        ("check", "show what this host has and lacks to run sandboxes (exit 0 when a VM can start)"),
        ("boot", "boot a sandbox VM, wait for the guest agent's greeting, power it off"),
        ("spec", "write a default config.json (as runc spec) into the bundle"),
        ("features", "print the runtime's features as JSON (as runc features)"),
        ("install", "register with Docker (install --docker) or with containerd's CRI for Kubernetes (install --containerd); --help lists the flags"),
        ("uninstall", "remove that registration (uninstall --docker or --containerd; --help lists the flags)"),
        ("version", "print the version"),
    ];

    private static int Usage(TextWriter stdout)
    {
        stdout.WriteLine("usage: vmsandbox [global flags] COMMAND [flags]\n\nRuns OCI containers, each in its own lightweight VM.\n\ncommands:");
        foreach (var (name, summary) in s_commands)
        {
            stdout.WriteLine($"  {name,-9} {summary}");
        }
        stdout.WriteLine("""

            global flags (runc-compatible):
              --root DIR          state directory (default /run/vmsandbox)
              --log FILE          also write errors to FILE
              --log-format FMT    text or json (default text)
              --debug             verbose logging
              --systemd-cgroup    accepted for runc compatibility

            "vmsandbox COMMAND --help" lists a command's flags; docs/cli.md describes them.
            """);
        return ExitCodes.Success;
    }

    private static int VerbUsage(TextWriter stdout, HelpRequestedException help)
    {
        string summary = s_commands.FirstOrDefault(c => c.Name == help.Verb).Summary ?? "";
        stdout.WriteLine($"vmsandbox {help.Verb} - {summary}");
        stdout.WriteLine();
        stdout.WriteLine($"usage: vmsandbox [global flags] {help.Verb}{(help.Flags.Count > 0 ? " [flags]" : "")} [ARGS]");
        if (help.Flags.Count > 0)
        {
            stdout.WriteLine();
            stdout.WriteLine("flags:");
            foreach (var (spec, takesValue) in help.Flags)
            {
                string[] names = spec.Split('|');
                stdout.WriteLine("  " + string.Join(", ", names.Select(n => (n.Length == 1 ? "-" : "--") + n + (takesValue ? " VALUE" : ""))));
            }
        }
        return ExitCodes.Success;
    }
}
