using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// getrandom(2): the kernel's CSPRNG. .NET's RandomNumberGenerator goes through OpenSSL on
/// Linux, which costs every CLI call, relay and monitor that needs a token its load and
/// initialisation (~10 ms, 3 MiB of libcrypto; issue 13).
/// </summary>
public static unsafe partial class KernelRandom
{
    private const int EINTR = 4;

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static partial nint getrandom(byte* buf, nuint buflen, uint flags);

    /// <summary>Fills <paramref name="buffer"/> (flags 0: blocks only until the pool was first seeded, at boot).</summary>
    public static void Fill(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                // SAFETY: p + done .. p + buffer.Length lies within the pinned span.
                nint n = getrandom(p + done, (nuint)(buffer.Length - done), 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    throw SyscallError.Create("getrandom", null, errno);
                }
                done += (int)n;
            }
        }
    }

    /// <summary><paramref name="count"/> random bytes.</summary>
    public static byte[] Bytes(int count)
    {
        byte[] bytes = new byte[count];
        Fill(bytes);
        return bytes;
    }

    /// <summary>A uniform value in [0, <paramref name="toExclusive"/>) (rejection sampling, no modulo bias).</summary>
    public static uint Below(uint toExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfZero(toExclusive);
        uint limit = uint.MaxValue - (uint.MaxValue % toExclusive);
        Span<byte> four = stackalloc byte[4];
        while (true)
        {
            Fill(four);
            uint value = BitConverter.ToUInt32(four);
            if (value < limit)
            {
                return value % toExclusive;
            }
        }
    }
}
