namespace VmSandbox.Seccomp;

/// <summary>A validated rule for one syscall: when every check holds, return Action.</summary>
internal sealed record CompiledRule(ArgCheck[] Checks, uint Action);
