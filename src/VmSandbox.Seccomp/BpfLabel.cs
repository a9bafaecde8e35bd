namespace VmSandbox.Seccomp;

/// <summary>
/// A jump target while <see cref="BpfEmitter"/> builds a program back to front: either an
/// instruction already emitted (its index counted from the end) or "return this action", which
/// the emitter resolves to the nearest reachable RET, emitting a fresh one when none is.
/// </summary>
internal readonly record struct BpfLabel(int Index, bool IsReturn, uint Action)
{
    public static BpfLabel At(int index) => new(index, false, 0);

    public static BpfLabel Return(uint action) => new(-1, true, action);
}
