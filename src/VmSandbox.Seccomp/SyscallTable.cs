using System.Collections.Frozen;
using VmSandbox.Interop;

namespace VmSandbox.Seccomp;

/// <summary>
/// Syscall names to numbers for x86_64 guests (native, x32 and i386), from the Linux 6.1 tables
/// in <c>SyscallTable.X86_64.cs</c> and <c>SyscallTable.I386.cs</c>. A name a table lacks
/// ("chown32" on x86_64, other arches' calls) resolves to nothing there, as in libseccomp.
/// </summary>
internal static partial class SyscallTable
{
    private static readonly SyscallEntry[] s_x86_64 = CreateX86_64Table();

    private static readonly FrozenDictionary<string, int> s_native = s_x86_64
        .Where(e => e.Abi != SyscallAbi.X32Only)
        .ToFrozenDictionary(e => e.Name, e => e.Number, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, uint> s_x32 = BuildX32();

    private static readonly SyscallEntry[] s_i386 = CreateI386Table();

    private static readonly FrozenDictionary<string, int> s_i386ByName =
        s_i386.ToFrozenDictionary(e => e.Name, e => e.Number, StringComparer.Ordinal);

    /// <summary>Every entry of syscall_64.tbl, for tests.</summary>
    public static IReadOnlyList<SyscallEntry> Entries => s_x86_64;

    /// <summary>Every entry of syscall_32.tbl, for tests.</summary>
    public static IReadOnlyList<SyscallEntry> I386Entries => s_i386;

    /// <summary>The i386 number of <paramref name="name"/> (seccomp_data.nr of an i386 process).</summary>
    public static bool TryGetI386(string name, out int number) => s_i386ByName.TryGetValue(name, out number);

    /// <summary>The x86_64 number of <paramref name="name"/>.</summary>
    public static bool TryGetNative(string name, out int number) => s_native.TryGetValue(name, out number);

    /// <summary>
    /// The value seccomp_data.nr holds when an x32 process makes the call: the x32 bit plus the
    /// x32 entry (512-547) where the table has one, else plus the "common" number. "64"-only
    /// calls do not exist for x32.
    /// </summary>
    public static bool TryGetX32(string name, out uint number) => s_x32.TryGetValue(name, out number);

    private static FrozenDictionary<string, uint> BuildX32()
    {
        var map = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (SyscallEntry e in s_x86_64)
        {
            if (e.Abi == SyscallAbi.Common || e.Abi == SyscallAbi.X32Only)
            {
                map[e.Name] = SeccompCalls.__X32_SYSCALL_BIT | (uint)e.Number;
            }
        }
        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
