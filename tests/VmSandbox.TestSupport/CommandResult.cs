namespace VmSandbox.TestSupport;

/// <summary>What a finished command left: its status and everything it wrote.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The command and its output, for assertion messages.</summary>
    public override string ToString() =>
        $"`{CommandLine}` exited {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}
