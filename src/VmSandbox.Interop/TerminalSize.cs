namespace VmSandbox.Interop;

/// <summary>A terminal's size in character cells (struct winsize's ws_row and ws_col).</summary>
public readonly record struct TerminalSize(ushort Rows, ushort Columns);
