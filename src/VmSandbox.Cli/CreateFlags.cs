using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli;

/// <summary>The flags `create` and `run` share, and the <see cref="CreateOptions"/> they make.</summary>
public static class CreateFlags
{
    public static readonly string[] Values = ["bundle|b", "pid-file", "console-socket", "preserve-fds"];

    /// <summary>Accepted for runc compatibility; `run` reads detach and keep.</summary>
    public static readonly string[] Bools = ["detach|d", "keep", "no-pivot", "no-new-keyring", "no-subreaper"];

    public static CreateOptions Options(VerbArgs args) => new()
    {
        Bundle = args.Value("bundle") ?? ".",
        ConsoleSocket = args.Value("console-socket"),
        PidFile = args.Value("pid-file"),
    };
}
