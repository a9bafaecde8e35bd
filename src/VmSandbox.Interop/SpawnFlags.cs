namespace VmSandbox.Interop;

/// <summary>Options of <see cref="Spawn.Start(string, IReadOnlyList{string}, IReadOnlyList{string}, ReadOnlySpan{int}, SpawnFlags)"/>.</summary>
[Flags]
public enum SpawnFlags
{
    None = 0,
    /// <summary>The child starts a session of its own (setsid).</summary>
    NewSession = 1,
    /// <summary>The child leads a process group of its own, for <see cref="Spawn.KillProcessGroup"/>.</summary>
    NewProcessGroup = 2,
    /// <summary>Close every descriptor above the given ones in the child.</summary>
    CloseOtherFds = 4,
}
