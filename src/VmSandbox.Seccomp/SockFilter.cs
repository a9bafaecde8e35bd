using System.Runtime.InteropServices;

namespace VmSandbox.Seccomp;

/// <summary>
/// One classic BPF instruction, laid out like the kernel's struct sock_filter
/// {u16 code; u8 jt; u8 jf; u32 k} (8 bytes), so a program passes to seccomp(2) without copying.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct SockFilter(ushort Code, byte Jt, byte Jf, uint K)
{
    public override string ToString() => $"{{ 0x{Code:x2}, {Jt}, {Jf}, 0x{K:x8} }}";
}
