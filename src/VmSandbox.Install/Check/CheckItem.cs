namespace VmSandbox.Install.Check;

/// <summary>One line of `vmsandbox check`.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Ok">Whether it is present and usable.</param>
/// <param name="Required">Whether a VM cannot start without it.</param>
/// <param name="Detail">What was found, or what is wrong.</param>
/// <param name="Fix">The command that fixes a gap, when there is one.</param>
public sealed record CheckItem(string Name, bool Ok, bool Required, string Detail, string? Fix = null);
