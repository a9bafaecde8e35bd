using System.Buffers.Binary;
using VmSandbox.Interop;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>struct seccomp_data as the kernel fills it: nr @0, arch @4, ip @8, args[6] @16 (64 bytes, little-endian).</summary>
internal readonly record struct SeccompData(uint Nr, uint Arch, ulong[] Args)
{
    public static SeccompData X86_64(uint nr, params ulong[] args) => new(nr, SeccompCalls.AUDIT_ARCH_X86_64, args);

    public byte[] ToBytes()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0), Nr);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), Arch);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 0x401000);
        for (int i = 0; i < Args.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16 + (8 * i)), Args[i]);
        }
        return bytes;
    }
}
