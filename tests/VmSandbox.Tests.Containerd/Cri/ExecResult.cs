namespace VmSandbox.Tests.Containerd.Cri;

/// <summary>What ExecSync returned.</summary>
internal sealed record ExecResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"`{Command}` exited {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}
