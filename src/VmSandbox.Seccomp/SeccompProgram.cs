using System.Runtime.InteropServices;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Seccomp;

/// <summary>
/// A compiled linux.seccomp: the BPF program and the seccomp(2) flags, ready to install. The
/// guest agent compiles a container's profile once and hands the program to each of its
/// processes' inits as bytes (<see cref="FilterBytes"/>, <see cref="FromBytes"/>): under TCG,
/// compiling Docker's profile again in every exec's init cost tens of ms (issue 13).
/// </summary>
public sealed record SeccompProgram(SockFilter[] Filter, SeccompFilterFlags Flags)
{
    /// <summary>BPF_MAXINSNS: the kernel refuses a longer classic BPF program.</summary>
    public const int MaxInstructions = 4096;

    private const SeccompFilterFlags KnownFlags = SeccompFilterFlags.Tsync | SeccompFilterFlags.Log | SeccompFilterFlags.SpecAllow;

    /// <summary>Compiles <paramref name="profile"/> (<see cref="SeccompCompiler"/>'s errors for a bad one).</summary>
    public static SeccompProgram Compile(LinuxSeccomp profile) =>
        new(SeccompCompiler.Compile(profile), SeccompCompiler.ParseFlags(profile.Flags));

    /// <summary>The program as struct sock_filter[] bytes (this machine's byte order: for a process on the same machine).</summary>
    public byte[] FilterBytes() => MemoryMarshal.AsBytes(Filter.AsSpan()).ToArray();

    /// <summary>The program <see cref="FilterBytes"/> wrote; a length or flags no compiled program has are a protocol error.</summary>
    public static SeccompProgram FromBytes(ReadOnlySpan<byte> filter, uint flags)
    {
        int size = Marshal.SizeOf<SockFilter>();
        if (filter.Length == 0 || filter.Length % size != 0 || filter.Length / size > MaxInstructions)
        {
            throw new VmSandboxException(ErrorCode.Protocol, $"seccomp program: bad length {filter.Length}");
        }
        if ((flags & ~(uint)KnownFlags) != 0)
        {
            throw new VmSandboxException(ErrorCode.Protocol, $"seccomp program: unknown flags 0x{flags:x}");
        }
        return new SeccompProgram(MemoryMarshal.Cast<byte, SockFilter>(filter).ToArray(), (SeccompFilterFlags)flags);
    }
}
