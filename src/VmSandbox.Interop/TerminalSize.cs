namespace VmSandbox.Interop;

/// <summary>A terminal's size in character cells (struct winsize's ws_row and ws_col).</summary>
public readonly record struct TerminalSize(ushort Rows, ushort Columns)
{
    /// <summary>A size from wider numbers (OCI's consoleSize, the agent API's resize), each capped at what a winsize holds.</summary>
    public static TerminalSize Clamp(uint rows, uint columns) =>
        new((ushort)Math.Min(rows, ushort.MaxValue), (ushort)Math.Min(columns, ushort.MaxValue));
}
