namespace VmSandbox.TestSupport.Containerd.Cri;

/// <summary>What ExecSync returned.</summary>
public sealed record ExecResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"`{Command}` exited {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}
